"""Running the relay: gauges for /metrics, retention, backup and restore. No HTTP here."""
