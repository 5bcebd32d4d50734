"""Test data in one place: process definitions, push payloads, lines, directory objects.

Plain builder functions, not factory_boy. The relay's test data is of two sorts: JSON-shaped
dicts (a definition, a document as 1C pushes it), which a function with keyword overrides
builds in one line; and directory rows, which must be made by the domain's own functions
(passwords hashed, PINs picked, tokens issued) or the tests would not be testing the rules.
factory_boy's SQLAlchemy factories write rows straight through a session of their own,
bypassing exactly those functions, and would add a dependency and a second way to commit.

The directory builders work inside an app context and only flush: the caller's
``transaction()`` (or the test's session) commits, as in the domain itself.
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert

from relay.db import transaction
from relay.directory import auth, devices, throttle, users
from relay.directory.auth import Identity
from relay.documents import lifecycle, push
from relay.documents.routing import Target
from relay.extensions import db
from relay.models import Device, Group, Result, User, WebhookEndpoint
from relay.online import send, webhook
from relay.online.sealing import Keys
from relay.processes import files, schema
from relay.processes.schema import Process
from relay.work import completion

# The suite's password hash: fast (production uses scrypt); as tests/conftest.py sets it.
FAST_HASH = "pbkdf2:sha256:1000"
PASSWORD = "secret-1"

# -- processes ---------------------------------------------------------------------------------


def process_definition(key: str = "cycle-count", **fields: Any) -> dict[str, Any]:
    """A definition of only the required fields (a cycle count by users), then ``fields``."""
    return {
        "key": key,
        "name": "Выборочный пересчёт",
        "source_document_type": "Пересчёт товаров",
        "terminal_document_type": "Пересчёт",
        "result_document_type": "Пересчёт товаров",
        "assign_to": "users",
        **fields,
    }


def process_yaml(key: str = "cycle-count") -> str:
    """``process_definition(key)`` as the text of a YAML file, one field a line, in order."""
    return yaml.safe_dump(process_definition(key), allow_unicode=True, sort_keys=False)


def write_process(directory: Path, definition: dict[str, Any], name: str | None = None) -> Path:
    """Save a definition as ``<name or key>.yaml`` in ``directory``; return the file."""
    path = directory / f"{name or definition['key']}.yaml"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    return path


def make_process(key: str = "cycle-count", version: int = 1, **fields: Any) -> Process:
    """A process validated by the real schema (defaults filled in)."""
    definition = schema.validate_definition(process_definition(key, **fields))
    return Process(key=definition["key"], version=version, definition=definition)


# The keys of the processes shipped in relay/business_processes/.
SHIPPED_KEYS = [
    "order-picking",
    "price-check",
    "purchase-receipt",
    "stock-count",
    "transfer-receipt",
    "transfer-shipment",
]


def shipped_process(key: str) -> Process:
    """A process as shipped in relay/business_processes/, at version 1."""
    definition = files.load_file(files.SHIPPED_DIR / f"{key}.yaml")
    return Process(key=key, version=1, definition=definition)


# -- lines and documents -----------------------------------------------------------------------

PRODUCTS = {1: "Молоко 1 л", 2: "Кефир 0,5 л", 3: "Сыр, кг", 4: "Хлеб", 5: "Масло 180 г"}


def line(n: int, declared_qty: Any = 1, **fields: Any) -> dict[str, Any]:
    """Declared line ``n`` of a document: product p-00n with its barcode, name and unit."""
    return {
        "line_id": str(n),
        "product_id": f"p-{n:03d}",
        "name": PRODUCTS.get(n, f"Товар {n}"),
        "barcode": f"46012345678{89 + n}",
        "unit": "шт",
        "declared_qty": declared_qty,
        **fields,
    }


def actual(line_id: str | int, qty: Any, **fields: Any) -> dict[str, Any]:
    """An actual line as a terminal sends it: a quantity counted against a declared line."""
    return {"line_id": str(line_id), "qty": qty, **fields}


def doc(
    external_id: str = "ЗаказПоставщику-0000-000123",
    lines: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A supplier order as 1C pushes it (Appendix A)."""
    return {
        "external_id": external_id,
        "number": external_id.rsplit("-", 1)[-1],
        "date": "2026-11-20",
        "header": {"warehouse": "Основной склад", "counterparty": "ООО Ромашка"},
        "lines": lines if lines is not None else [line(1, 10), line(2, 5)],
        **extra,
    }


def stock_lines() -> list[dict[str, Any]]:
    """Declared lines of a stock count: book quantities, which terminals do not see."""
    return [line(1, 10, cell="A-01"), line(2, 6, cell="A-02")]


# -- directory objects (inside an app context; the caller commits) -----------------------------


def add_device(tenant_id: int, pin: str, *, status: str = "active", name: str = "ТСД") -> Device:
    """A device row with this PIN (a revoked one keeps it as its last PIN)."""
    device = Device(tenant_id=tenant_id, name=name, model="EDA50", serial="", pin=pin)
    if status == "revoked":
        device.status, device.pin, device.last_pin = "revoked", None, pin
    db.session.add(device)
    db.session.flush()
    return device


def add_devices(tenant_id: int, pins: Iterable[int], *, retired: bool = False) -> None:
    """Insert devices quickly: active ones with these PINs, or revoked ones that had them."""
    rows = [
        {
            "tenant_id": tenant_id,
            "name": f"ТСД {pin}",
            "model": "EDA50",
            "serial": "",
            "pin": None if retired else str(pin),
            "last_pin": str(pin) if retired else None,
            "status": "revoked" if retired else "active",
        }
        for pin in pins
    ]
    db.session.execute(insert(Device), rows)


def enroll(
    tenant_id: int, name: str = "Склад-1", *, serial: str = "", mode: str | None = None
) -> devices.Enrolled:
    """Enroll a terminal the way the app does (an enrollment code spent): a device and a token."""
    code, _row = devices.create_enrollment_code(tenant_id, uses=1, ttl_seconds=3600)
    enrolled = devices.enroll(code, name=name, model="EDA50", serial=serial)
    if mode is not None:
        devices.update_device(enrolled.device, mode=mode)
    db.session.flush()
    return enrolled


def add_user(tenant_id: int, login: str, password: str = PASSWORD, name: str = "") -> User:
    """An operator with this login and password."""
    return users.create_user(
        tenant_id, login=login, name=name or login.title(), password=password, hash_method=FAST_HASH
    )


def add_group(tenant_id: int, name: str, members: Sequence[str] = ()) -> Group:
    """A group of these (existing) users."""
    group = users.create_group(tenant_id, name=name, member_logins=members)
    db.session.flush()
    return group


def identity(token: str) -> Identity:
    """Who a request carrying this key or token is, as authentication finds it."""
    return auth.authenticate(f"Bearer {token}")


def log_in(device_token: str, login: str, password: str = PASSWORD) -> str:
    """Open an operator session on the terminal with this device token; return its token."""
    session = users.log_in(
        identity(device_token),
        login=login,
        password=password,
        ttl=timedelta(hours=1),
        lockout=throttle.Limit(5, timedelta(minutes=5)),
        hash_method=FAST_HASH,
    )
    return session.token


# -- documents pushed, claimed, completed (each in a transaction of its own) --------------------


def push_docs(
    accounting_key: str,
    process_key: str,
    docs: Sequence[dict[str, Any]],
    target: Target | None = None,
    next_target: Target | None = None,
) -> list[push.Pushed]:
    """Push documents as 1C does (``next_target``: where the chained documents go)."""
    with transaction():
        return push.push(
            identity(accounting_key), process_key, target or Target(), docs, next_target
        )


def claim(token: str, instance_id: uuid.UUID) -> str:
    """Claim an instance for the terminal with this token; return the claim token."""
    with transaction():
        _instance, claim_token = lifecycle.claim(identity(token), instance_id)
    return claim_token


def complete(
    token: str, instance_id: uuid.UUID, lines: list[dict[str, Any]], **payload: Any
) -> dict[str, Any]:
    """Complete a claimed instance with these actual lines; return the relay's answer."""
    body = {"submission_id": uuid.uuid4().hex, "lines": lines, **payload}
    with transaction():
        return completion.complete(identity(token), instance_id, body)


def completed_order(
    accounting_key: str, device_token: str, external_id: str = "ЗаказПоставщику-0000-000123"
) -> Result:
    """A supplier order pushed to the device, claimed and completed as declared: its result."""
    pin = identity(device_token).device_pin
    (pushed,) = push_docs(accounting_key, "purchase-receipt", [doc(external_id)], Target(pin=pin))
    instance_id = pushed.instances[0].id
    token = claim(device_token, instance_id)
    answer = complete(device_token, instance_id, [actual(1, 10), actual(2, 5)], claim_token=token)
    result = db.session.get(Result, (pushed.document.tenant_id, uuid.UUID(answer["result_id"])))
    assert result is not None
    return result


# -- webhook deliveries --------------------------------------------------------------------------


# The key webhook secrets are sealed with in unit tests (the app's tests use SECRET_KEY).
KEYS = Keys.of("unit-test-secret-key")


def send_settings(**changes: Any) -> send.Settings:
    """Delivery settings with short time-outs and a three-step retry schedule."""
    values: dict[str, Any] = {
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "retry_schedule": (5.0, 30.0, 120.0),
        "rotation_grace": timedelta(hours=24),
        "allow_private": False,
        "lease_margin": 3.0,
        "keys": KEYS,
        **changes,
    }
    return send.Settings(**values)


def set_webhook(
    tenant_id: int, url: str = "http://127.0.0.1:9/hs/relay", *, enabled: bool = True
) -> tuple[WebhookEndpoint, str | None]:
    """Set the tenant's webhook endpoint (a LAN address allowed); return it and a new secret."""
    with transaction():
        return webhook.put_endpoint(
            tenant_id, url=url, enabled=enabled, allow_private=True, keys=KEYS
        )
