"""Closing work: collective parts, completion, results and chained documents."""
