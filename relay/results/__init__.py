"""Results back to accounting: the feed and ack, and webhook delivery."""
