"""Round trips per transition: how many SQL statements each hot request sends, so they cannot
creep back up (issue 16). A statement is one cursor execution: on PostgreSQL a round trip
(psycopg's own BEGIN and the COMMIT are not cursor executions and are not counted).

Before issue 16 (SQLite / PostgreSQL): push 13 / 11, claim 9 / 7, complete 12 / 11, and an
acknowledgement 10 / 8 for a page of one result and 6 more for each further result.

The ceilings are what the relay reaches today, per database: SQLite's write requests read the
token in a transaction of their own and then take the write lock with BEGIN IMMEDIATE (both are
statements too), and PostgreSQL's push keeps a savepoint where a concurrent push of the same
external_id can win. What each request does is listed in its test.
"""

import re
import uuid
from typing import Any

import pytest
from flask import Flask

from relay.extensions import db
from tests.helpers import Client, TenantKeys, Terminal, sql_sent

LINES = 20


def sqlite(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


def document(external_id: str) -> dict[str, Any]:
    """A supplier order of 20 lines, as the benchmark pushes it."""
    return {
        "external_id": external_id,
        "number": external_id[-11:],
        "date": "2026-11-20",
        "header": {"warehouse": "Основной склад"},
        "lines": [
            {
                "line_id": str(n),
                "product_id": f"p-{n:03}",
                "name": f"Товар № {n}",
                "barcode": f"46012345{n:05}",
                "unit": "шт",
                "declared_qty": 10,
            }
            for n in range(1, LINES + 1)
        ],
    }


def push(api: Client, tenant: TenantKeys, terminal: Terminal) -> str:
    body = {
        "business_process": "purchase-receipt",
        "target": {"pin": terminal.pin},
        "documents": [document(f"ЗаказПоставщику-{uuid.uuid4().hex[:12]}")],
    }
    response = api.post("/api/v1/documents", tenant.accounting_key, body)
    assert response.status_code == 201, response.json
    return str(response.json["documents"][0]["instances"][0]["id"])


def ceiling(app: Flask, on_sqlite: int, on_postgres: int) -> int:
    return on_sqlite if sqlite(app) else on_postgres


def check(sent: list[tuple[str, Any]], most: int) -> None:
    listing = "\n  ".join(re.sub(r"\s+", " ", statement)[:120] for statement, _ in sent)
    assert len(sent) <= most, f"{len(sent)} statements, at most {most} wanted:\n  {listing}"


@pytest.fixture
def terminal(api: Client, tenant: TenantKeys) -> Terminal:
    terminal = api.enroll(tenant)
    push(api, tenant, terminal)  # the first push reads the process definition into the cache
    return terminal


def test_a_push_of_one_20_line_document_to_a_pin(
    app: Flask, api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    """Token; process version; device by PIN; the external_id (locked); document, event,
    instance, addressee; the device's inbox counter."""
    with sql_sent(app) as sent:
        push(api, tenant, terminal)
    check(sent, ceiling(app, 11, 11))


def test_a_claim(app: Flask, api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    """Token; instance, document and addressees (locked); the instance, its inbox flag, the
    device's counter, the event."""
    instance = push(api, tenant, terminal)
    with sql_sent(app) as sent:
        api.claim(terminal, instance)
    check(sent, ceiling(app, 8, 6))


def test_a_completion_of_20_lines(
    app: Flask, api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    """Token; instance, document and addressees (locked); the submission_id; the result, the
    instance, the device's counter, the event, the submission."""
    instance = push(api, tenant, terminal)
    api.claim(terminal, instance)
    lines = [{"line_id": str(n), "qty": 10} for n in range(1, LINES + 1)]
    with sql_sent(app) as sent:
        api.complete(terminal, instance, lines)
    check(sent, ceiling(app, 10, 8))


def test_an_acknowledgement_of_a_page_costs_the_same_for_1_and_for_10_results(
    app: Flask, api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    """Token; the results (locked); mark them, settle their deliveries, close their instances,
    write their events: set-wise, whatever the page's size."""
    lines = [{"line_id": str(n), "qty": 10} for n in range(1, LINES + 1)]
    for _ in range(11):
        instance = push(api, tenant, terminal)
        api.claim(terminal, instance)
        api.complete(terminal, instance, lines)
    ids = [r["id"] for r in api.get("/api/v1/results", tenant.accounting_key).json["results"]]
    counts = []
    for page in (ids[:1], ids[1:]):
        with sql_sent(app) as sent:
            response = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": page})
        assert response.status_code == 200, response.json
        assert len(response.json["processed"]) == len(page)
        check(sent, ceiling(app, 8, 6))
        counts.append(len(sent))
    assert counts[0] == counts[1]


def test_an_unchanged_inbox_poll(app: Flask, api: Client, terminal: Terminal) -> None:
    """The token, whose row carries the inbox counters the ETag is made of: nothing else."""
    etag = api.get("/api/v1/terminal/documents", terminal.token).headers["ETag"]
    with sql_sent(app) as sent:
        response = api.get(
            "/api/v1/terminal/documents", terminal.token, headers={"If-None-Match": etag}
        )
    assert response.status_code == 304
    check(sent, ceiling(app, 2, 1))
