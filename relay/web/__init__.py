"""Web pages served by the relay: the admin console and the terminal app."""
