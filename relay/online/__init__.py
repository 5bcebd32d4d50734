"""Online mode's transport: the webhook endpoint, signing, sending, outbox."""
