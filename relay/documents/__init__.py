"""A document's life: push, routing, instances and their states, inbox."""
