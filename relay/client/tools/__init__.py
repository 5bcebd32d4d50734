"""Programs built on the client: the demo and a local relay server."""
