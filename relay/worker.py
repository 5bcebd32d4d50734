"""`relay worker`: the delivery and maintenance loop.

Each pass returns claims past their process's claim limit to the queue, then delivers a batch
of due webhooks (and, every CATALOG_MAINTENANCE_SECONDS, purges old catalog tombstones and
drops expired catalog uploads); an idle worker sleeps WORKER_POLL_SECONDS between passes.
SIGTERM or SIGINT lets the delivery in hand finish, gives the rest of the batch back, and
exits 0.

Any number of workers may share a PostgreSQL database (row leases taken with
``FOR UPDATE SKIP LOCKED``); on SQLite one worker is enough (more are safe, but the database
has one writer, so they only take turns).
"""

import logging
import os
import signal
import socket
import time
from types import FrameType

import requests
from flask import Flask
from sqlalchemy.exc import DBAPIError

from relay.catalogs import maintenance as catalog_maintenance
from relay.catalogs.config import Settings as CatalogSettings
from relay.db import transaction
from relay.documents import lifecycle
from relay.extensions import db
from relay.online import guard, send
from relay.results import delivery
from relay.timeutil import utcnow

log = logging.getLogger(__name__)

# After a database error the worker waits this many poll intervals before trying again.
ERROR_BACKOFF_POLLS = 5


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
        session = guard.new_session(allow_private=self.settings.allow_private)
        try:
            while not self.stopping:
                try:
                    leased = self.run_pass(session)
                except DBAPIError:
                    log.exception("worker %s: database error; retrying shortly", self.id)
                    db.session.rollback()
                    self.sleep(self.poll_seconds * ERROR_BACKOFF_POLLS)
                    continue
                finally:
                    db.session.remove()
                if leased == 0:
                    if once:
                        break
                    self.sleep(self.poll_seconds)
        finally:
            session.close()
        log.info("worker %s stopped", self.id)

    def run_pass(self, session: requests.Session) -> int:
        """Expire claims, deliver one batch; return how many entries were leased."""
        with transaction():
            n = lifecycle.expire_claims(utcnow())
        if n:
            log.info("worker %s: %d claims past their limit went back to the queue", self.id, n)
        if time.monotonic() >= self.catalogs_due:
            self.catalogs_due = time.monotonic() + self.catalog_interval
            self.maintain_catalogs()
        return delivery.deliver_batch(
            session,
            self.id,
            self.settings,
            limit=self.batch_size,
            should_stop=lambda: self.stopping,
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
