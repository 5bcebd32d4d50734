"""Store-and-forward for terminals: completions survive an outage in a local SQLite queue.

A completion is written to the queue, with its ``submission_id``, *before* it is sent, so a
network that drops, a relay that is down or a terminal that restarts loses nothing. The queue
is uploaded with the batch endpoint (SPEC §9); every completion is answered on its own, and it
leaves the queue only when that answer is final:

- ``200``: applied (or applied before: the relay answers a repeated ``submission_id`` with its
  first answer, so a batch whose answer was lost is simply sent again);
- another 4xx that will never succeed (``claim_lost``, ``document_cancelled``,
  ``quantity_control``…): moved to the ``failed`` table with the error, for the operator to see;
- anything else (no answer, 429, 5xx, ``409 busy``): kept, and sent again on the next sync.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from relay.client import jsonio
from relay.client.errors import ApiError, TransportError, error_from_body
from relay.client.terminal import Completion, TerminalClient

# The relay's default cap on completions per batch request.
BATCH_SIZE = 100
# Answers that say "not now" rather than "never": the completion stays queued.
_RETRY_LATER_CODES = frozenset({"busy", "conflict"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queued (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS failed (
    submission_id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    failed_at TEXT NOT NULL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def final(status: int, code: str) -> bool:
    """Whether an answer settles a completion for good (applied, or refused for ever)."""
    if status == 200:
        return True
    return 400 <= status < 500 and status != 429 and code not in _RETRY_LATER_CODES


@dataclass(frozen=True)
class Queued:
    """A completion waiting in the queue, with how often sending it has failed."""

    seq: int
    completion: Completion
    queued_at: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Failed:
    """A completion the relay refused for good, kept for the operator with the error."""

    completion: Completion
    queued_at: str
    failed_at: str
    status: int
    error: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.error.get("error", {}).get("code", ""))

    @property
    def message(self) -> str:
        return str(self.error.get("error", {}).get("message", ""))


class _SqliteFile:
    """A SQLite file of the terminal's, in WAL mode, made with its schema on first use."""

    def __init__(self, path: str | Path, schema: str, *, synchronous_full: bool) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        if synchronous_full:
            self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(schema)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class CompletionStore(_SqliteFile):
    """The terminal's SQLite file of queued and failed completions."""

    def __init__(self, path: str | Path) -> None:
        # A completion the operator was told is saved must survive a power cut.
        super().__init__(path, _SCHEMA, synchronous_full=True)

    def add(self, completion: Completion) -> None:
        """Queue a completion (again: a known submission id is left as it is)."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO queued (submission_id, instance_id, body, queued_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    completion.submission_id,
                    completion.instance_id,
                    jsonio.dumps(completion.batch_item()),
                    _now(),
                ),
            )

    def pending(self, limit: int | None = None, *, after: int = 0) -> list[Queued]:
        """Queued completions, oldest first (those queued after ``after``, a ``seq``)."""
        rows = self._db.execute(
            "SELECT seq, body, queued_at, attempts, last_error FROM queued WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (after, limit if limit is not None else -1),
        )
        return [
            Queued(seq, Completion.from_batch_item(jsonio.loads(body)), at, attempts, error)
            for seq, body, at, attempts, error in rows
        ]

    def count(self) -> int:
        (n,) = self._db.execute("SELECT count(*) FROM queued").fetchone()
        return int(n)

    def remove(self, submission_id: str) -> None:
        """Forget a completion the relay has applied."""
        with self._db:
            self._db.execute("DELETE FROM queued WHERE submission_id = ?", (submission_id,))

    def note_failure(self, submission_ids: Sequence[str], error: str) -> None:
        """Record a try that got no final answer; the completions stay queued."""
        with self._db:
            self._db.executemany(
                "UPDATE queued SET attempts = attempts + 1, last_error = ? WHERE submission_id = ?",
                [(error, sid) for sid in submission_ids],
            )

    def fail(self, submission_id: str, status: int, error: Mapping[str, Any]) -> None:
        """Move a completion the relay refused for good to the ``failed`` table."""
        with self._db:
            row = self._db.execute(
                "SELECT instance_id, body, queued_at FROM queued WHERE submission_id = ?",
                (submission_id,),
            ).fetchone()
            if row is None:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO failed (submission_id, instance_id, body, queued_at, "
                "failed_at, status, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (submission_id, *row, _now(), status, jsonio.dumps(dict(error))),
            )
            self._db.execute("DELETE FROM queued WHERE submission_id = ?", (submission_id,))

    def failed(self) -> list[Failed]:
        """Completions refused for good, oldest first."""
        rows = self._db.execute(
            "SELECT body, queued_at, failed_at, status, error FROM failed ORDER BY failed_at"
        )
        return [
            Failed(Completion.from_batch_item(jsonio.loads(body)), q, f, s, jsonio.loads(e))
            for body, q, f, s, e in rows
        ]

    def discard_failed(self, submission_id: str | None = None) -> int:
        """Drop one failed completion (or all of them) once the operator has dealt with it."""
        with self._db:
            if submission_id is None:
                cursor = self._db.execute("DELETE FROM failed")
            else:
                cursor = self._db.execute(
                    "DELETE FROM failed WHERE submission_id = ?", (submission_id,)
                )
        return cursor.rowcount


@dataclass
class SyncReport:
    """What one sync did with the queue."""

    sent: list[tuple[Completion, dict[str, Any]]] = field(default_factory=list)
    failed: list[tuple[Completion, ApiError]] = field(default_factory=list)
    kept: list[tuple[Completion, str]] = field(default_factory=list)
    offline: bool = False
    """The relay could not be reached: everything still queued stays for the next sync."""

    def answer_for(self, submission_id: str) -> dict[str, Any] | None:
        return next((a for c, a in self.sent if c.submission_id == submission_id), None)

    def error_for(self, submission_id: str) -> ApiError | None:
        return next((e for c, e in self.failed if c.submission_id == submission_id), None)


@dataclass(frozen=True)
class Delivery:
    """A completion made through the store: the relay's answer, or queued for later."""

    completion: Completion
    answer: dict[str, Any] | None

    @property
    def queued(self) -> bool:
        return self.answer is None


class StoreAndForward:
    """A terminal that keeps working without the network.

    ``complete`` writes the completion to the store, then uploads the queue; with no network
    the completion simply waits. ``sync`` uploads whatever waits, in the order it was made.
    """

    def __init__(
        self, client: TerminalClient, store: CompletionStore, *, batch_size: int = BATCH_SIZE
    ) -> None:
        self.client = client
        self.store = store
        self.batch_size = batch_size

    def complete(
        self,
        instance_id: str,
        lines: Sequence[Mapping[str, Any]],
        *,
        header: Mapping[str, Any] | None = None,
        close: bool = True,
        claim_token: str | None = None,
    ) -> Delivery:
        """Complete a document: answered now when the relay is reachable, queued otherwise.

        A refusal that will never succeed (``quantity_control``, ``claim_lost``…) is raised
        to the operator at once and not kept in the ``failed`` table.
        """
        completion = self.client.completion(
            instance_id, lines, header=header, close=close, claim_token=claim_token
        )
        self.store.add(completion)
        report = self.sync()
        error = report.error_for(completion.submission_id)
        if error is not None:
            self.store.discard_failed(completion.submission_id)
            raise error
        return Delivery(completion, report.answer_for(completion.submission_id))

    def sync(self) -> SyncReport:
        """Upload the queue in batches; keep what got no final answer."""
        report = SyncReport()
        last = 0
        while True:
            queued = self.store.pending(self.batch_size, after=last)
            if not queued:
                return report
            last = queued[-1].seq
            batch = [q.completion for q in queued]
            try:
                outcomes = self.client.submit_batch(batch)
            except TransportError as err:
                self.store.note_failure([c.submission_id for c in batch], err.message)
                report.kept += [(c, err.message) for c in batch]
                report.offline = True
                return report
            except ApiError as err:
                # The whole request was refused (a revoked device, a malformed batch): the
                # queue is kept for when the operator has sorted it out.
                self.store.note_failure([c.submission_id for c in batch], str(err))
                report.kept += [(c, str(err)) for c in batch]
                if final(err.status, err.code):
                    raise
                return report
            self._settle(batch, outcomes, report)

    def _settle(
        self, batch: Sequence[Completion], outcomes: Sequence[Any], report: SyncReport
    ) -> None:
        by_submission = {o.submission_id: o for o in outcomes}
        for completion in batch:
            outcome = by_submission.get(completion.submission_id)
            if outcome is None:
                self.store.note_failure([completion.submission_id], "no answer in the batch")
                report.kept.append((completion, "no answer in the batch"))
                continue
            if outcome.ok:
                self.store.remove(completion.submission_id)
                report.sent.append((completion, outcome.body))
                continue
            error = error_from_body(outcome.status, outcome.body)
            if final(error.status, error.code):
                self.store.fail(completion.submission_id, error.status, error.to_dict())
                report.failed.append((completion, error))
            else:
                self.store.note_failure([completion.submission_id], str(error))
                report.kept.append((completion, str(error)))


# -- catalogs ------------------------------------------------------------------------------------

_CATALOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogs (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    synced_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog_items (
    catalog TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (catalog, id)
);
CREATE TABLE IF NOT EXISTS catalog_barcodes (
    barcode TEXT NOT NULL,
    catalog TEXT NOT NULL,
    id TEXT NOT NULL,
    unit TEXT,
    factor TEXT,
    PRIMARY KEY (barcode, catalog, id)
);
CREATE INDEX IF NOT EXISTS catalog_barcodes_item ON catalog_barcodes (catalog, id);
"""


def _barcodes(catalog: str, item: Mapping[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """The barcodes an item brings, as the relay indexes them: packaging, or a cell's label."""
    if catalog == "products":
        return [
            (
                str(b["barcode"]),
                b.get("unit"),
                None if b.get("factor") is None else str(b["factor"]),
            )
            for b in item.get("barcodes") or []
            if isinstance(b, Mapping) and b.get("barcode")
        ]
    if catalog == "cells" and item.get("barcode"):
        return [(str(item["barcode"]), None, None)]
    return []


@dataclass(frozen=True)
class CatalogSynced:
    """What one catalog's sync did."""

    name: str
    since: int
    version: int
    changed: int = 0
    deleted: int = 0
    full: bool = False
    items: int = 0


class CatalogStore(_SqliteFile):
    """The terminal's local copy of the catalogs, with the version of each to ask deltas from.

    A sync applies all its pages in one SQLite transaction and stores the version last, so a
    sync cut short leaves the copy as it was, and the next sync asks again from the same version.
    """

    def __init__(self, path: str | Path) -> None:
        # A copy lost in a power cut is synced again from the relay: no need to wait for fsync.
        super().__init__(path, _CATALOG_SCHEMA, synchronous_full=False)

    def version(self, name: str) -> int:
        """The version this copy holds (0: never synced)."""
        row = self._db.execute("SELECT version FROM catalogs WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def catalogs(self) -> list[tuple[str, int, int, str]]:
        """Every catalog held: name, version, items, last sync time."""
        rows = self._db.execute(
            "SELECT c.name, c.version, c.synced_at, "
            "(SELECT count(*) FROM catalog_items i WHERE i.catalog = c.name) "
            "FROM catalogs c ORDER BY c.name"
        )
        return [(name, int(version), int(count), at) for name, version, at, count in rows]

    def count(self, name: str) -> int:
        (n,) = self._db.execute(
            "SELECT count(*) FROM catalog_items WHERE catalog = ?", (name,)
        ).fetchone()
        return int(n)

    def item(self, name: str, ident: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT data FROM catalog_items WHERE catalog = ? AND id = ?", (name, ident)
        ).fetchone()
        return None if row is None else dict(jsonio.loads(row[0]))

    def items(self, name: str) -> list[dict[str, Any]]:
        """A catalog's items, by id."""
        rows = self._db.execute(
            "SELECT data FROM catalog_items WHERE catalog = ? ORDER BY id", (name,)
        )
        return [dict(jsonio.loads(data)) for (data,) in rows]

    def lookup(self, barcode: str) -> dict[str, Any] | None:
        """Resolve a barcode offline, as the relay's barcode lookup does."""
        rows = self._db.execute(
            "SELECT b.catalog, b.unit, b.factor, i.data FROM catalog_barcodes b "
            "JOIN catalog_items i ON i.catalog = b.catalog AND i.id = b.id "
            "WHERE b.barcode = ? ORDER BY b.catalog DESC, b.id",
            (barcode,),
        ).fetchall()
        if not rows:
            return None
        catalog, unit, factor, data = rows[0]
        item = dict(jsonio.loads(data))
        if catalog == "products":
            return {
                "type": "product",
                "barcode": barcode,
                "factor": jsonio.loads(factor) if factor is not None else 1,
                "unit": unit or item.get("unit"),
                "item": item,
            }
        return {"type": "cell", "barcode": barcode, "item": item}

    def apply(self, name: str, since: int, pages: Iterable[Mapping[str, Any]]) -> CatalogSynced:
        """Apply the pages of a delta (a full load when ``since`` is 0) and store its version."""
        changed = deleted = 0
        version = since
        with self._db:
            if since == 0:
                self._db.execute("DELETE FROM catalog_items WHERE catalog = ?", (name,))
                self._db.execute("DELETE FROM catalog_barcodes WHERE catalog = ?", (name,))
            for page in pages:
                version = int(page["version"])
                gone = [(name, ident) for ident in page.get("deleted") or []]
                fresh = list(page.get("items") or [])
                touched = gone + [(name, str(item["id"])) for item in fresh]
                self._db.executemany(
                    "DELETE FROM catalog_barcodes WHERE catalog = ? AND id = ?", touched
                )
                self._db.executemany("DELETE FROM catalog_items WHERE catalog = ? AND id = ?", gone)
                self._db.executemany(
                    "INSERT OR REPLACE INTO catalog_items (catalog, id, data) VALUES (?, ?, ?)",
                    [(name, str(item["id"]), jsonio.dumps(item)) for item in fresh],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO catalog_barcodes (barcode, catalog, id, unit, factor) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (code, name, str(item["id"]), unit, factor)
                        for item in fresh
                        for code, unit, factor in _barcodes(name, item)
                    ],
                )
                changed += len(fresh)
                deleted += len(gone)
            self._db.execute(
                "INSERT OR REPLACE INTO catalogs (name, version, synced_at) VALUES (?, ?, ?)",
                (name, version, _now()),
            )
        return CatalogSynced(name, since, version, changed, deleted, since == 0, self.count(name))


def sync_catalogs(
    client: TerminalClient, store: CatalogStore, names: Sequence[str] = ()
) -> list[CatalogSynced]:
    """Bring the local copy up to date: a delta per catalog whose version moved.

    A catalog whose deletions since the stored version were purged on the relay
    (``410 resync_required``) is reloaded in full.
    """
    listed = {c["name"]: int(c["version"]) for c in client.catalogs()}
    out = []
    for name in names or sorted(listed):
        since = store.version(name)
        if name in listed and since == listed[name]:
            out.append(CatalogSynced(name, since, since, items=store.count(name)))
            continue
        try:
            out.append(store.apply(name, since, client.catalog_changes(name, since)))
        except ApiError as err:
            if err.code != "resync_required":
                raise
            out.append(store.apply(name, 0, client.catalog_changes(name, 0)))
    return out
