"""Bulk-load a relay database with a queue of documents, in the shape a real push writes.

A push writes, per document routed to one addressee: a ``documents`` row, a ``pushed`` event,
a queued ``instances`` row, its ``instance_addressees`` row (``listed``), and it bumps the
addressee's ``inbox_seq`` (``tenants.all_inbox_seq`` for "all"). This module writes exactly
those rows, column for column, for 10³..10⁶ documents: SQLAlchemy Core executemany on SQLite,
``COPY`` on PostgreSQL. ``render_push`` renders one push payload through the same code, so the
benchmark can compare it with what the relay itself stored for the same payload.

The directory is what a tenant with 10⁴ terminals and operators looks like: 5 000 enrolled
devices (each with its device token), 5 000 users in 100 groups. Documents are spread over the
last two weeks (their UUIDv7 ids and timestamps agree, so "oldest first" holds) and over the
addressees: most to a device by PIN, the rest to users and groups. A few *probe* addressees get
the same number of documents at every size, so the requests measured read the same amount
whatever the length of the queue: what changes is only the rest of the queue around them.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import simplejson
from sqlalchemy import Engine, create_engine, text

from relay.directory.auth import PREFIXES
from relay.ids import hash_token, new_token
from relay.jsonutil import canonical, dumps

# Row values are written in the form both databases take from text: UUIDs as 32 hex digits,
# times as naive UTC "YYYY-MM-DD HH:MM:SS.ffffff" (what SQLAlchemy stores on SQLite), JSON as
# the relay's own serializer writes it.
Row = tuple[Any, ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    "devices": (
        "tenant_id", "id", "name", "model", "serial", "pin", "last_pin", "mode", "status",
        "created_at", "last_seen_at", "revoked_at", "inbox_seq",
    ),
    "credentials": (
        "tenant_id", "id", "kind", "token_hash", "device_id", "user_id", "created_at",
        "expires_at", "revoked_at",
    ),
    "users": (
        "tenant_id", "id", "login", "name", "password_hash", "created_at", "deleted_at",
        "inbox_seq",
    ),
    "groups": ("tenant_id", "id", "name", "created_at", "deleted_at", "inbox_seq"),
    "group_members": ("tenant_id", "group_id", "user_id"),
    "documents": (
        "tenant_id", "id", "business_process", "business_process_version", "external_id",
        "number", "date", "header", "lines", "target", "next_target", "chained_from_result_id",
        "content_hash", "version", "created_at", "updated_at",
    ),
    "events": (
        "tenant_id", "id", "document_id", "instance_id", "kind", "at", "actor", "device_id",
        "user_id", "details",
    ),
    "instances": (
        "tenant_id", "id", "document_id", "state", "holder_device_id", "holder_user_id",
        "claim_token_hash", "claimed_at", "claim_expires_at", "completed_at", "created_at",
        "updated_at",
    ),
    "instance_addressees": ("tenant_id", "instance_id", "key", "listed"),
}  # fmt: skip
DOCUMENT_TABLES = ("documents", "events", "instances", "instance_addressees")

DEVICE_PROCESS = "purchase-receipt"  # assign_to: device, addressed by PIN
USER_PROCESS = "order-picking"  # assign_to: users, one shared instance
GROUP_PROCESS = "transfer-shipment"  # assign_to: users, to a group
COLLECTIVE_PROCESS = "stock-count"  # collective work, to a group
EXTERNAL_PREFIX = {
    DEVICE_PROCESS: "ЗаказПоставщику",
    USER_PROCESS: "ЗаказКлиента",
    GROUP_PROCESS: "ПеремещениеТоваров",
    COLLECTIVE_PROCESS: "Инвентаризация",
}
# The background mix: (share, process, addressee kind).
MIX = (
    (0.55, DEVICE_PROCESS, "device"),
    (0.25, USER_PROCESS, "user"),
    (0.15, GROUP_PROCESS, "group"),
    (0.05, COLLECTIVE_PROCESS, "group"),
)
WAREHOUSES = ("Основной склад", "Склад №2", "Склад готовой продукции", "Магазин на Ленина")
UNITS = ("шт", "шт", "шт", "упак", "кг", "л")
PASSWORD = "bench-operator-password"  # noqa: S105 - the bench users' password, not a secret
SPAN = timedelta(days=14)
CHUNK = 20_000


@dataclass(frozen=True)
class Layout:
    """The tenant's directory and the probe addressees the benchmark measures."""

    devices: int = 5000
    users: int = 5000
    groups: int = 100
    products: int = 5000
    probe_devices: int = 12
    probe_docs_per_device: int = 36
    probe_user_docs: int = 10
    probe_group_docs: int = 10
    all_docs: int = 2

    @property
    def probe_docs(self) -> int:
        return (
            self.probe_devices * self.probe_docs_per_device
            + self.probe_user_docs
            + self.probe_group_docs
            + self.all_docs
        )


@dataclass
class Probe:
    """A probe device: its token, PIN and the instances queued to it (oldest first)."""

    device_id: str
    pin: str
    token: str
    instances: list[str] = field(default_factory=list)


@dataclass
class Loaded:
    """What the benchmark needs to know about a loaded tenant."""

    tenant_id: int
    documents: int
    rows: dict[str, int]
    seconds: dict[str, float]
    probes: list[Probe]
    probe_user_login: str
    probe_user_instances: list[str]
    probe_group_instances: list[str]
    all_instances: list[str]
    background_pins: list[str]
    sample_document_ids: list[str]


# -- values ----------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1)


def fmt_time(us: int) -> str:
    """Naive UTC text of a Unix time in microseconds, as SQLAlchemy stores it on SQLite."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat(" ", "microseconds")


class Ids:
    """UUIDv7 ids (as ``relay.ids.new_id`` makes them) for a given millisecond, seeded."""

    _MASK62 = (1 << 62) - 1

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits

    def at(self, unix_ms: int) -> str:
        rand = self._bits(74)
        value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
        value |= 0x7 << 76
        value |= (rand >> 62) << 64
        value |= 0b10 << 62
        value |= rand & self._MASK62
        return f"{value:032x}"


def dashed(hex_id: str) -> str:
    """The text form of a UUID (as addressee keys spell it) from its 32 hex digits."""
    h = hex_id
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Encoded:
    """One JSON value as stored (``stored``) and as hashed (``canon``)."""

    stored: str
    canon: str


def encode(value: Any) -> Encoded:
    return Encoded(dumps(value), canonical(value))


def encode_target(target: Mapping[str, Any]) -> Encoded:
    """A push target in the relay's normalized form (``routing.Target.normalized``)."""
    out: dict[str, Any] = {}
    if "pin" in target:
        out["pin"] = target["pin"]
    if "users" in target:
        out["users"] = sorted(set(target["users"]))
    if "groups" in target:
        out["groups"] = sorted(set(target["groups"]))
    if target.get("all"):
        out["all"] = True
    return encode(out)


# How the relay stores a None in a JSON column (documents.next_target): the JSON text "null" on
# SQLite, SQL NULL in PostgreSQL's JSONB (as a real push shows).
NULL_JSON = {"sqlite": "null", "postgresql": None}
_PUSHED_DETAILS = dumps({"version": 1})


def content_hash(
    number: str, date: str | None, header: Encoded, lines: Encoded, target: Encoded
) -> str:
    """``relay.documents.content_hash`` from already encoded parts (no next target)."""
    material = (
        '{"date":' + canonical(date) + ',"header":' + header.canon + ',"lines":' + lines.canon
        + ',"next_target":null,"number":' + canonical(number) + ',"target":' + target.canon + "}"
    )  # fmt: skip
    return hashlib.sha256(material.encode()).hexdigest()


def document_rows(
    tenant_id: int,
    ids: Ids,
    unix_us: int,
    *,
    process: str,
    external_id: str,
    number: str,
    date: str | None,
    header: Encoded,
    lines: Encoded,
    target: Encoded,
    addressee_key: str,
    null_json: str | None,
) -> tuple[Row, Row, Row, Row]:
    """The four rows one pushed document writes: document, pushed event, instance, addressee."""
    ms = unix_us // 1000
    document_id, event_id, instance_id = ids.at(ms), ids.at(ms), ids.at(ms)
    t0, t1, t2 = fmt_time(unix_us), fmt_time(unix_us + 3), fmt_time(unix_us + 900)
    digest = content_hash(number, date, header, lines, target)
    document = (
        tenant_id, document_id, process, 1, external_id, number, date, header.stored,
        lines.stored, target.stored, null_json, None, digest, 1, t0, t0,
    )  # fmt: skip
    event = (
        tenant_id, event_id, document_id, None, "pushed", t1, "accounting", None, None,
        _PUSHED_DETAILS,
    )  # fmt: skip
    instance = (
        tenant_id, instance_id, document_id, "queued", None, None, None, None, None, None, t2, t2,
    )  # fmt: skip
    addressee = (tenant_id, instance_id, addressee_key, True)
    return document, event, instance, addressee


def payload_line(line_id: int, product: int, rng: random.Random) -> dict[str, Any]:
    """A declared line, with its fields in the order the push schema stores them."""
    unit = UNITS[product % len(UNITS)]
    qty: Any = Decimal(rng.randint(1, 400)) / 100 if unit in ("кг", "л") else rng.randint(1, 48)
    return {
        "line_id": str(line_id),
        "product_id": f"p-{product:05d}",
        "barcode": f"46{product:011d}",
        "name": f"Товар {product:05d} ({unit})",
        "unit": unit,
        "declared_qty": qty,
    }


def render_push(
    tenant_id: int,
    doc: Mapping[str, Any],
    *,
    process: str,
    target: Mapping[str, Any],
    key: str,
    dialect: str,
) -> tuple[Row, Row, Row, Row]:
    """Render one pushed document (a push payload's item) the way the bulk load writes it."""
    return document_rows(
        tenant_id,
        Ids(random.Random()),
        time.time_ns() // 1000,
        process=process,
        external_id=doc["external_id"],
        number=doc.get("number") or "",
        date=doc.get("date"),
        header=encode(dict(doc.get("header") or {})),
        lines=encode([dict(line) for line in doc.get("lines") or []]),
        target=encode_target(target),
        addressee_key=key,
        null_json=NULL_JSON[dialect],
    )


# -- writers ---------------------------------------------------------------------------------


class Writer:
    """Insert rows into one table; commit; close."""

    dialect = ""

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def executemany(self, sql: str, params: Sequence[Row]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Make the database look settled (statistics), then close."""
        raise NotImplementedError


class SqliteWriter(Writer):
    """SQLAlchemy Core executemany into SQLite, in large transactions, fsync off while loading.

    The relay never runs ANALYZE on SQLite, so neither does the load: the planner sees the
    database as a LAN box would.
    """

    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.conn = self.engine.connect()
        for pragma in ("journal_mode=WAL", "synchronous=OFF", "cache_size=-262144"):
            self.conn.exec_driver_sql(f"PRAGMA {pragma}")
        self.conn.exec_driver_sql("BEGIN")

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        cols = COLUMNS[table]
        quoted = ", ".join(f'"{c}"' for c in cols)
        sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(cols))})"
        self.conn.exec_driver_sql(sql, list(rows))

    def executemany(self, sql: str, params: Sequence[Row]) -> None:
        self.conn.exec_driver_sql(sql, list(params))

    def commit(self) -> None:
        self.conn.exec_driver_sql("COMMIT")
        self.conn.exec_driver_sql("BEGIN")

    def finish(self) -> None:
        self.conn.exec_driver_sql("COMMIT")
        self.conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
        self.engine.dispose()


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return (
                value.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
        return value
    return str(value)


class PostgresWriter(Writer):
    """``COPY … FROM STDIN`` (text format) into PostgreSQL, then VACUUM ANALYZE.

    Autovacuum would analyze and vacuum tables this size within minutes of such an insert; the
    benchmark does it at once, so the plans are those of a settled database.
    """

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        # Foreign-key triggers off while loading (rows are consistent by construction, and
        # checked afterwards by ``orphans``): a per-row trigger would double the load time.
        self.conn.execute("SET session_replication_role = replica")

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        cols = ", ".join(f'"{c}"' for c in COLUMNS[table])
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            buf: list[str] = []
            for row in rows:
                buf.append("\t".join(map(_copy_text, row)))
                if len(buf) >= 5000:
                    copy.write("\n".join(buf) + "\n")
                    buf.clear()
            if buf:
                copy.write("\n".join(buf) + "\n")

    def executemany(self, sql: str, params: Sequence[Row]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), params)  # type: ignore[arg-type]

    def commit(self) -> None:
        self.conn.commit()

    def finish(self) -> None:
        self.conn.commit()
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        self.conn.close()


def writer_for(url: str) -> Writer:
    return SqliteWriter(url) if url.startswith("sqlite") else PostgresWriter(url)


# -- the load --------------------------------------------------------------------------------


@dataclass
class _Directory:
    devices: list[tuple[str, str]]  # (hex id, pin)
    users: list[tuple[str, str]]  # (hex id, login)
    groups: list[tuple[str, str]]  # (hex id, name)
    tokens: dict[int, str]  # probe device index -> token


def _pins(rng: random.Random, n: int) -> list[str]:
    """PINs as ``devices.pick_pin`` hands them out: 4 digits until half are used, then 5."""
    four = min(n, 4500)
    pins = [str(p) for p in rng.sample(range(1000, 10000), four)]
    pins += [str(p) for p in rng.sample(range(10000, 100000), n - four)]
    return pins


def _directory(
    tenant_id: int, layout: Layout, rng: random.Random, ids: Ids, now_us: int, password_hash: str
) -> tuple[_Directory, dict[str, list[Row]]]:
    enrolled_us = now_us - int(SPAN.total_seconds() * 1e6) * 4
    rows: dict[str, list[Row]] = {t: [] for t in COLUMNS if t not in DOCUMENT_TABLES}
    devices, tokens = [], {}
    models = ("EDA50", "EDA51", "TC21", "TC52", "MC3300", "CT40")
    for i, pin in enumerate(_pins(rng, layout.devices)):
        us = enrolled_us + i * 1_000_000
        device_id = ids.at(us // 1000)
        devices.append((device_id, pin))
        seen = fmt_time(now_us - rng.randint(60, 86_400) * 1_000_000)
        rows["devices"].append(
            (
                tenant_id, device_id, f"ТСД-{i + 1:05d}", models[i % len(models)],
                f"SN{rng.getrandbits(40):010X}", pin, None,
                "online" if i % 5 == 4 else "offline", "active", fmt_time(us), seen, None, 0,
            )
        )  # fmt: skip
        # Only the probes' tokens are kept; the other devices' tokens exist only as hashes,
        # as after a real enrollment.
        token = new_token(PREFIXES["device"])
        if i < layout.probe_devices:
            tokens[i] = token
        rows["credentials"].append(
            (
                tenant_id, ids.at(us // 1000 + 1), "device", hash_token(token), device_id,
                None, fmt_time(us + 1000), None, None,
            )
        )  # fmt: skip
    users = []
    for i in range(layout.users):
        us = enrolled_us + i * 1_000_000 + 500_000
        user_id = ids.at(us // 1000)
        login = f"op{i:05d}"
        users.append((user_id, login))
        rows["users"].append(
            (
                tenant_id, user_id, login, f"Оператор {i:05d}", password_hash, fmt_time(us),
                None, 0,
            )
        )  # fmt: skip
    groups = []
    for g in range(layout.groups):
        us = enrolled_us - (layout.groups - g) * 1_000_000
        group_id = ids.at(us // 1000)
        name = f"Смена {g:03d}"
        groups.append((group_id, name))
        rows["groups"].append((tenant_id, group_id, name, fmt_time(us), None, 0))
    for i, (user_id, _login) in enumerate(users):
        rows["group_members"].append((tenant_id, groups[i % layout.groups][0], user_id))
    return _Directory(devices, users, groups, tokens), rows


def _plan(n: int, layout: Layout, rng: random.Random) -> list[tuple[str, str, int]]:
    """(process, addressee kind, addressee index) for each of ``n`` documents, shuffled.

    Probe addressees (devices 0..P-1, user 0, group 0, "all") get a fixed number of
    documents; the background goes to every other device, user and group.
    """
    if n < layout.probe_docs:
        raise ValueError(f"at least {layout.probe_docs} documents are needed for the probes")
    plan: list[tuple[str, str, int]] = []
    for d in range(layout.probe_devices):
        plan += [(DEVICE_PROCESS, "device", d)] * layout.probe_docs_per_device
    plan += [(USER_PROCESS, "user", 0)] * layout.probe_user_docs
    plan += [(GROUP_PROCESS, "group", 0)] * layout.probe_group_docs
    plan += [(USER_PROCESS, "all", 0)] * layout.all_docs
    rest = n - len(plan)
    bounds = {
        "device": (layout.probe_devices, layout.devices - 1),
        "user": (1, layout.users - 1),
        "group": (1, layout.groups - 1),
    }
    counts = [round(rest * share) for share, _p, _k in MIX[:-1]]
    counts.append(rest - sum(counts))
    for count, (_share, process, kind) in zip(counts, MIX, strict=True):
        low, high = bounds[kind]
        plan += [(process, kind, rng.randint(low, high)) for _ in range(count)]
    rng.shuffle(plan)
    return plan


class _Pool:
    """Pre-encoded headers and line lists, so 10⁶ documents do not mean 10⁶ serializations."""

    def __init__(self, layout: Layout, rng: random.Random) -> None:
        self.lines: list[Encoded] = []
        for _ in range(1000):
            count = min(40, max(1, int(rng.lognormvariate(2.0, 0.7))))
            products = rng.sample(range(1, layout.products + 1), count)
            self.lines.append(
                encode([payload_line(j, p, rng) for j, p in enumerate(products, start=1)])
            )
        self.headers: list[Encoded] = []
        for w in WAREHOUSES:
            for c in range(250):
                self.headers.append(
                    encode({"warehouse": w, "counterparty": f"ООО «Поставщик {c:03d}»"})
                )


def load(
    url: str,
    tenant_id: int,
    n: int,
    *,
    layout: Layout | None = None,
    seed: int = 1,
    password_hash: str,
    log: Callable[[str], None] = print,
) -> Loaded:
    """Load the directory and ``n`` queued documents into a migrated database with one tenant."""
    layout = layout or Layout()
    rng = random.Random(seed)
    ids = Ids(rng)
    now_us = time.time_ns() // 1000
    seconds: dict[str, float] = {}
    counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    started = time.perf_counter()
    writer = writer_for(url)
    directory, directory_rows = _directory(tenant_id, layout, rng, ids, now_us, password_hash)
    for table, rows in directory_rows.items():
        writer.insert(table, rows)
        counts[table] += len(rows)
    writer.commit()
    seconds["directory"] = time.perf_counter() - started

    started = time.perf_counter()
    pool = _Pool(layout, rng)
    plan = _plan(n, layout, rng)
    keys = {
        "device": [f"device:{dashed(d)}" for d, _pin in directory.devices],
        "user": [f"user:{dashed(u)}" for u, _login in directory.users],
        "group": [f"group:{dashed(g)}" for g, _name in directory.groups],
    }
    targets = {
        "device": [encode_target({"pin": pin}) for _d, pin in directory.devices],
        "user": [encode_target({"users": [login]}) for _u, login in directory.users],
        "group": [encode_target({"groups": [name]}) for _g, name in directory.groups],
        "all": [encode_target({"all": True})],
    }
    seq = {"device": [0] * layout.devices, "user": [0] * layout.users}
    seq["group"] = [0] * layout.groups
    seq["all"] = [0]
    probes = [
        Probe(device_id=dashed(directory.devices[i][0]), pin=pin, token=directory.tokens[i])
        for i, (_d, pin) in enumerate(directory.devices[: layout.probe_devices])
    ]
    probe_user, probe_group, to_all, samples = [], [], [], []
    start_us = now_us - int(SPAN.total_seconds() * 1e6)
    step = max(1, int(SPAN.total_seconds() * 1e6) // n)
    gen_seconds = 0.0
    for chunk_start in range(0, n, CHUNK):
        t_gen = time.perf_counter()
        batch: dict[str, list[Row]] = {t: [] for t in DOCUMENT_TABLES}
        for i in range(chunk_start, min(n, chunk_start + CHUNK)):
            process, kind, who = plan[i]
            unix_us = start_us + i * step + rng.randrange(step)
            day = datetime.fromtimestamp(unix_us / 1e6, UTC).date().isoformat()
            number = f"{i // 1_000_000:04d}-{i % 1_000_000:06d}"
            key = keys[kind][who] if kind != "all" else "all"
            rows = document_rows(
                tenant_id,
                ids,
                unix_us,
                process=process,
                external_id=f"{EXTERNAL_PREFIX[process]}-{number}",
                number=number,
                date=day,
                header=pool.headers[i % len(pool.headers)],
                lines=pool.lines[rng.randrange(len(pool.lines))],
                target=targets[kind][who if kind != "all" else 0],
                addressee_key=key,
                null_json=NULL_JSON[writer.dialect],
            )
            for table, row in zip(DOCUMENT_TABLES, rows, strict=True):
                batch[table].append(row)
            seq[kind][who if kind != "all" else 0] += 1
            instance_id = dashed(rows[2][1])
            if kind == "device" and who < layout.probe_devices:
                probes[who].instances.append(instance_id)
            elif kind == "user" and who == 0:
                probe_user.append(instance_id)
            elif kind == "group" and who == 0:
                probe_group.append(instance_id)
            elif kind == "all":
                to_all.append(instance_id)
            if i % max(1, n // 8) == 0:
                samples.append(dashed(rows[0][1]))
        if chunk_start == 0:
            _check_hash(batch["documents"][0])
        gen_seconds += time.perf_counter() - t_gen
        for table in DOCUMENT_TABLES:
            writer.insert(table, batch[table])
            counts[table] += len(batch[table])
        writer.commit()
        done = min(n, chunk_start + CHUNK)
        if done == n or (done // CHUNK) % 10 == 0:
            log(f"    {done:>9,} documents  {time.perf_counter() - started:6.1f} s")
    # The inbox counters a push bumps once per instance addressed (inbox.touch).
    for kind, table in (("device", "devices"), ("user", "users"), ("group", "groups")):
        bumps = [
            (count, tenant_id, directory_id)
            for (directory_id, _name), count in zip(
                getattr(directory, table), seq[kind], strict=True
            )
            if count
        ]
        writer.executemany(
            f"UPDATE {table} SET inbox_seq = ? WHERE tenant_id = ? AND id = ?", bumps
        )
    writer.executemany(
        "UPDATE tenants SET all_inbox_seq = ? WHERE id = ?", [(seq["all"][0], tenant_id)]
    )
    writer.commit()
    seconds["documents"] = time.perf_counter() - started
    seconds["generate"] = gen_seconds
    started = time.perf_counter()
    writer.finish()
    seconds["finish"] = time.perf_counter() - started
    return Loaded(
        tenant_id=tenant_id,
        documents=n,
        rows=counts,
        seconds=seconds,
        probes=probes,
        probe_user_login=directory.users[0][1],
        probe_user_instances=probe_user,
        probe_group_instances=probe_group,
        all_instances=to_all,
        background_pins=[pin for _d, pin in directory.devices[layout.probe_devices :]],
        sample_document_ids=samples,
    )


def _check_hash(document: Row) -> None:
    """The hash built from encoded parts equals ``relay.documents.push.content_hash``."""
    from relay.documents.push import content_hash as relay_hash
    from relay.documents.routing import Target

    cols = COLUMNS["documents"]
    row = dict(zip(cols, document, strict=True))
    loads = simplejson.loads
    doc = {
        "number": row["number"],
        "date": row["date"],
        "header": loads(row["header"], use_decimal=True),
        "lines": loads(row["lines"], use_decimal=True),
    }
    target = Target.from_dict(loads(row["target"]))
    if relay_hash(doc, target, Target()) != row["content_hash"]:
        raise AssertionError("the bulk content hash differs from relay.documents.push.content_hash")


# -- comparing with what the relay wrote -------------------------------------------------------

_COMPARE_SKIP = {"id", "document_id", "instance_id", "created_at", "updated_at", "at"}
JSON_COLUMNS = {"header", "lines", "target", "next_target", "details"}


def _normal(column: str, value: Any) -> Any:
    """A stored value in one form for both databases (hex UUIDs, canonical JSON)."""
    if value is None:
        return None
    if hasattr(value, "hex") and not isinstance(value, (str, bytes)):
        return value.hex
    if column in JSON_COLUMNS:
        if isinstance(value, str):
            value = simplejson.loads(value, use_decimal=True)
        return canonical(value)
    if isinstance(value, bool):
        return int(value)
    return value


def stored_rows(engine: Engine, tenant_id: int, external_id: str) -> dict[str, dict[str, Any]]:
    """The rows the relay wrote for one pushed document (one instance, one addressee)."""
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:

        def one(table: str, where: str, **params: Any) -> dict[str, Any]:
            cols = COLUMNS[table]
            quoted = ", ".join(f'"{c}"' for c in cols)
            found = conn.execute(
                text(f"SELECT {quoted} FROM {table} WHERE tenant_id = :t AND {where}"),
                {"t": tenant_id, **params},
            ).all()
            if len(found) != 1:
                raise AssertionError(f"{table}: {len(found)} rows for {external_id}")
            return dict(zip(cols, found[0], strict=True))

        out["documents"] = one("documents", "external_id = :e", e=external_id)
        doc_id = out["documents"]["id"]
        out["events"] = one("events", "document_id = :d", d=doc_id)
        out["instances"] = one("instances", "document_id = :d", d=doc_id)
        out["instance_addressees"] = one(
            "instance_addressees", "instance_id = :i", i=out["instances"]["id"]
        )
    return out


def differences(
    stored: Mapping[str, Mapping[str, Any]], rendered: Sequence[Row], *, exact_json: bool
) -> list[str]:
    """Where the relay's rows and the bulk rendering of the same push differ (ids, times aside).

    ``exact_json`` (SQLite, where JSON is text) also compares the JSON text byte for byte.
    """
    out = []
    for table, row in zip(DOCUMENT_TABLES, rendered, strict=True):
        mine = dict(zip(COLUMNS[table], row, strict=True))
        theirs = stored[table]
        for column in COLUMNS[table]:
            if column in _COMPARE_SKIP:
                continue
            a, b = _normal(column, theirs[column]), _normal(column, mine[column])
            if exact_json and column in JSON_COLUMNS:
                a, b = theirs[column], mine[column]
            if a != b:
                out.append(f"{table}.{column}: relay {a!r} vs bulk {b!r}")
            if theirs[column] is None and mine[column] is not None:
                out.append(f"{table}.{column}: relay NULL vs bulk {mine[column]!r}")
    links = (
        _normal("x", stored["events"]["document_id"]) == _normal("x", stored["documents"]["id"]),
        _normal("x", stored["instances"]["document_id"]) == _normal("x", stored["documents"]["id"]),
        _normal("x", stored["instance_addressees"]["instance_id"])
        == _normal("x", stored["instances"]["id"]),
    )
    if not all(links):
        out.append("the relay's rows do not link the way the bulk rows do")
    return out
