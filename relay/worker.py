"""`relay worker`: the delivery and maintenance loop.

Each pass returns claims past their process's claim limit to the queue, then delivers a batch
of due webhooks (and, every CATALOG_MAINTENANCE_SECONDS, purges old catalog tombstones and
drops expired catalog uploads); an idle worker sleeps WORKER_POLL_SECONDS between passes.
SIGTERM or SIGINT lets the delivery in hand finish, gives the rest of the batch back, and
exits 0.

Any number of workers may share a PostgreSQL database (row leases taken with
``FOR UPDATE SKIP LOCKED``); on SQLite one worker is enough (more are safe, but the database
has one writer, so they only take turns).

With RELAY_RETENTION_DAYS set, a worker also purges documents processed that many days ago,
once a day (relay.maintenance.retention). With RELAY_WORKER_METRICS_BIND set, it serves its
own /metrics there: deliveries by verdict, passes, purged documents and the delivery lag.
"""

import logging
import os
import signal
import socket
import time
from datetime import timedelta
from types import FrameType
from typing import Any

import requests
from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from sqlalchemy.exc import DBAPIError

from relay import logs
from relay.catalogs import maintenance as catalog_maintenance
from relay.catalogs.config import Settings as CatalogSettings
from relay.db import reads_only, transaction
from relay.documents import lifecycle
from relay.extensions import db
from relay.maintenance import gauges, retention
from relay.online import guard, send
from relay.results import delivery
from relay.timeutil import utcnow

log = logging.getLogger(__name__)

# After a database error the worker waits this many poll intervals before trying again.
ERROR_BACKOFF_POLLS = 5
# A worker with RELAY_RETENTION_DAYS set purges at start, then this often.
PURGE_EVERY = timedelta(days=1)


class WorkerMetrics:
    """The worker's own metrics, in a registry of its own (served by ``serve``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "relay_worker_deliveries_total",
            "Webhook attempts by verdict: delivered, retry, dead, gone, lost.",
            ["verdict"],
            registry=self.registry,
        )
        self.passes = Counter(
            "relay_worker_passes_total", "Maintenance and delivery passes.", registry=self.registry
        )
        self.errors = Counter(
            "relay_worker_database_errors_total",
            "Passes cut short by a database error.",
            registry=self.registry,
        )
        self.purged = Counter(
            "relay_worker_purged_documents_total",
            "Documents removed by retention.",
            registry=self.registry,
        )
        self.lag = Gauge(
            "relay_worker_delivery_lag_seconds",
            "How long the oldest due webhook delivery has waited, at the last pass.",
            registry=self.registry,
        )
        self.last_pass = Gauge(
            "relay_worker_last_pass_timestamp_seconds",
            "When the last pass ended (Unix time).",
            registry=self.registry,
        )
        self._server: Any = None

    def serve(self, bind: str) -> None:
        """Serve /metrics on ``bind`` (host:port) from a background thread."""
        host, _, port = bind.rpartition(":")
        self._server, _thread = start_http_server(
            int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry
        )

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def default_id() -> str:
    """Name a worker after its host and process, as the outbox records it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


class Worker:
    """Run passes until told to stop. Needs an application context."""

    def __init__(self, app: Flask, worker_id: str | None = None) -> None:
        self.id = (worker_id or default_id())[:100]
        self.settings = send.Settings.from_config(app.config)
        self.batch_size = int(app.config["WORKER_BATCH_SIZE"])
        self.poll_seconds = float(app.config["WORKER_POLL_SECONDS"])
        self.catalogs = CatalogSettings.from_config(app.config)
        self.catalog_interval = float(app.config["CATALOG_MAINTENANCE_SECONDS"])
        self.catalogs_due = 0.0
        self.retention_days = int(app.config["RETENTION_DAYS"])
        self.metrics_bind = str(app.config["WORKER_METRICS_BIND"])
        self.metrics = WorkerMetrics()
        self.next_purge = time.monotonic()
        self.stopping = False

    def stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        """Ask the loop to finish the delivery in hand and exit (a signal handler)."""
        if not self.stopping:
            log.info("worker %s: %s received, stopping", self.id, signal.Signals(signum).name)
        self.stopping = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self, *, once: bool = False) -> None:
        """Loop until stopped; with ``once``, until nothing is due, then return."""
        log.info(
            "worker %s started (batch %d, poll %.1f s, lease %.0f s)",
            self.id,
            self.batch_size,
            self.poll_seconds,
            self.settings.lease.total_seconds(),
        )
        if self.metrics_bind:
            self.metrics.serve(self.metrics_bind)
            log.info("worker %s: metrics at http://%s/metrics", self.id, self.metrics_bind)
        session = guard.new_session(allow_private=self.settings.allow_private)
        try:
            while not self.stopping:
                # Each pass's lines share an id, as a request's do.
                logs.set_request_id("pass-" + logs.new_request_id())
                try:
                    leased = self.run_pass(session)
                except DBAPIError:
                    self.metrics.errors.inc()
                    log.exception("worker %s: database error; retrying shortly", self.id)
                    db.session.rollback()
                    self.sleep(self.poll_seconds * ERROR_BACKOFF_POLLS)
                    continue
                finally:
                    db.session.remove()
                    logs.set_request_id(None)
                self.metrics.passes.inc()
                self.metrics.last_pass.set_to_current_time()
                if leased == 0:
                    if once:
                        break
                    self.sleep(self.poll_seconds)
        finally:
            session.close()
            self.metrics.close()
        log.info("worker %s stopped", self.id)

    def run_pass(self, session: requests.Session) -> int:
        """Expire claims, purge when due, deliver one batch; return how many were leased."""
        with transaction():
            n = lifecycle.expire_claims(utcnow())
        if n:
            log.info("worker %s: %d claims past their limit went back to the queue", self.id, n)
        if time.monotonic() >= self.catalogs_due:
            self.catalogs_due = time.monotonic() + self.catalog_interval
            self.maintain_catalogs()
        if self.retention_days and time.monotonic() >= self.next_purge:
            self.purge()
        if self.metrics_bind:
            with reads_only(), transaction():
                self.metrics.lag.set(gauges.delivery_lag(utcnow()))
        return delivery.deliver_batch(
            session,
            self.id,
            self.settings,
            limit=self.batch_size,
            should_stop=lambda: self.stopping,
            on_verdict=self.count_verdict,
        )

    def count_verdict(self, verdict: str) -> None:
        self.metrics.deliveries.labels(verdict).inc()

    def purge(self) -> None:
        """Remove documents processed more than RELAY_RETENTION_DAYS ago; log the counts."""
        self.next_purge = time.monotonic() + PURGE_EVERY.total_seconds()
        cutoff = utcnow() - timedelta(days=self.retention_days)
        counts = retention.purge(cutoff, should_stop=lambda: self.stopping)
        self.metrics.purged.inc(counts["documents"])
        log.info(
            "worker %s: retention removed %d documents processed before %s",
            self.id,
            counts["documents"],
            cutoff.isoformat(),
            extra={"purged": dict(counts)},
        )

    def maintain_catalogs(self) -> None:
        """Purge catalog tombstones past their age and drop expired uploads."""
        now = utcnow()
        purged = catalog_maintenance.purge_tombstones(now - self.catalogs.tombstone_ttl, now)
        dropped = catalog_maintenance.drop_expired_uploads(now)
        if purged or dropped:
            log.info(
                "worker %s: %d catalog tombstones purged, %d expired uploads dropped",
                self.id,
                purged,
                dropped,
            )

    def sleep(self, seconds: float) -> None:
        """Sleep in short steps, so a stop request is seen promptly."""
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
