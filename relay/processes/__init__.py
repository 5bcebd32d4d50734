"""Business processes: the rules a document is routed and worked by."""
