"""Collective work under real concurrency on PostgreSQL: nothing lost, nothing doubled.

Every thread has its own operator session and its own test client, and they start together
at a barrier, so joins, submissions and closes really hit the instance row at the same time.
"""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from flask import Flask

from tests.api.test_collective import push_count
from tests.helpers import Client, TenantKeys, Terminal, document, join, kinds, operator, results

pytestmark = pytest.mark.postgres_only

N = 14
LOGINS = [f"op{i:02d}" for i in range(N)]
DOCS = "/api/v1/terminal/documents"
T = TypeVar("T")


def in_parallel(
    app: Flask, count: int, work: Callable[[int, Client, threading.Barrier], T]
) -> list[T]:
    """Run ``work(i, own client, barrier)`` in ``count`` threads at once; re-raise failures."""
    barrier = threading.Barrier(count, timeout=60)
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, i, Client(app.test_client()), barrier) for i in range(count)]
        return [f.result(timeout=120) for f in futures]


@pytest.fixture
def crew(api: Client, tenant: TenantKeys) -> list[Terminal]:
    return [operator(api, tenant, login) for login in LOGINS]


def qty_of(i: int) -> tuple[int, Decimal]:
    """What operator ``i`` counts on lines 1 and 2 (line 2 in kilograms, to the gram)."""
    return i + 1, Decimal("0.125") * (i + 1) + Decimal("0.001")


def part_lines(i: int) -> list[dict[str, Any]]:
    one, two = qty_of(i)
    return [
        {"line_id": "1", "qty": one, "serial": f"SN-{i:02d}"},
        {"line_id": "2", "qty": two},
        {"product_id": f"p-x{i:02d}", "qty": 1},
    ]


def post_complete(
    client: Client, terminal: Terminal, instance_id: str, lines: list[dict[str, Any]], close: bool
) -> Any:
    return client.post(
        f"{DOCS}/{instance_id}/complete",
        terminal.bearer,
        {
            "submission_id": uuid.uuid4().hex,
            "claim_token": terminal.claims[instance_id],
            "close": close,
            "lines": lines,
        },
    )


def test_concurrent_joins_and_part_submissions_lose_nothing(
    app: Flask, api: Client, tenant: TenantKeys, crew: list[Terminal]
) -> None:
    document_id, instance_id = push_count(api, tenant, LOGINS)

    def work(i: int, client: Client, barrier: threading.Barrier) -> tuple[str, int, int]:
        terminal = crew[i]
        barrier.wait()
        joined = client.post(f"{DOCS}/{instance_id}/join", terminal.bearer)
        assert joined.status_code == 200, joined.json
        terminal.claims[instance_id] = joined.json["claim_token"]
        barrier.wait()
        done = post_complete(client, terminal, instance_id, part_lines(i), close=False)
        return joined.json["part_id"], done.status_code, done.json.get("part_id")

    outcomes = in_parallel(app, N, work)
    assert [status for _part, status, _ in outcomes] == [200] * N
    part_ids = {part for part, _status, _ in outcomes}
    assert len(part_ids) == N
    assert all(part == answered for part, _status, answered in outcomes)

    doc_out = document(api, tenant, document_id)
    (instance,) = doc_out["instances"]
    assert {p["part_id"] for p in instance["parts"]} == part_ids
    assert {p["state"] for p in instance["parts"]} == {"submitted"}
    assert Counter(kinds(doc_out))["joined"] == N
    assert Counter(kinds(doc_out))["part_submitted"] == N

    closed = api.post(f"/api/v1/documents/{document_id}/close", tenant.accounting_key)
    assert closed.status_code == 200, closed.json
    (result,) = results(api, tenant)
    line1, line2 = result["lines"]
    assert line1["actual_qty"] == sum(qty_of(i)[0] for i in range(N))
    assert line2["actual_qty"] == sum(qty_of(i)[1] for i in range(N))
    assert sorted(a["serial"] for a in line1["actual"]) == [f"SN-{i:02d}" for i in range(N)]
    assert {a["part_id"] for a in line1["actual"]} == part_ids
    assert {a["part_id"] for a in line2["actual"]} == part_ids
    assert sorted(u["product_id"] for u in result["undeclared"]) == [
        f"p-x{i:02d}" for i in range(N)
    ]


def test_concurrent_closes_while_a_part_is_open_are_all_refused(
    app: Flask, api: Client, tenant: TenantKeys, crew: list[Terminal]
) -> None:
    document_id, instance_id = push_count(api, tenant, LOGINS)
    for terminal in crew:
        join(api, terminal, instance_id)
    holdout = crew[-1]
    before = document(api, tenant, document_id)

    def work(i: int, client: Client, barrier: threading.Barrier) -> tuple[int, str, list[str]]:
        barrier.wait()
        if i == N - 1:  # the accounting side tries too
            answer = client.post(f"/api/v1/documents/{document_id}/close", tenant.accounting_key)
        else:
            answer = post_complete(client, crew[i], instance_id, part_lines(i), close=True)
        error = answer.json["error"]
        return answer.status_code, error["code"], [p["login"] for p in error["details"]["parts"]]

    outcomes = in_parallel(app, N, work)
    assert {(status, code) for status, code, _ in outcomes} == {(409, "parts_open")}
    # Nothing was stored, so every caller sees every part still open (its own too, or the
    # holdout's alone when the accounting side asked).
    for i, (_status, _code, open_logins) in enumerate(outcomes):
        expected = [f"op{j:02d}" for j in range(N) if j != i]
        if i == N - 1:
            expected = [f"op{j:02d}" for j in range(N)]
        assert sorted(open_logins) == expected
    after = document(api, tenant, document_id)
    assert after["timeline"] == before["timeline"]
    assert {p["state"] for p in after["instances"][0]["parts"]} == {"open"}
    assert results(api, tenant) == []
    assert holdout.claims[instance_id]


def test_submissions_racing_closes_make_exactly_one_result(
    app: Flask, api: Client, tenant: TenantKeys, crew: list[Terminal]
) -> None:
    document_id, instance_id = push_count(api, tenant, LOGINS)
    for terminal in crew:
        join(api, terminal, instance_id)
    # The first operator is done already and keeps pressing "close"; so does accounting.
    first = crew[0]
    assert post_complete(api, first, instance_id, part_lines(0), close=False).status_code == 200
    submitters = N - 1
    closers = 2

    def work(i: int, client: Client, barrier: threading.Barrier) -> list[tuple[int, str]]:
        barrier.wait()
        if i < submitters:
            answer = post_complete(client, crew[i + 1], instance_id, part_lines(i + 1), False)
            return [(answer.status_code, answer.json.get("state") or answer.json["error"]["code"])]
        seen: list[tuple[int, str]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if i == submitters:
                answer = post_complete(client, first, instance_id, [], close=True)
            else:
                answer = client.post(
                    f"/api/v1/documents/{document_id}/close", tenant.accounting_key
                )
            code = answer.json.get("state") or answer.json["error"]["code"]
            seen.append((answer.status_code, code))
            if code != "parts_open":
                return seen
            time.sleep(0.005)
        return seen

    outcomes = in_parallel(app, submitters + closers, work)
    assert [o for (o,) in outcomes[:submitters]] == [(200, "claimed")] * submitters
    finals = [seen[-1] for seen in outcomes[submitters:]]
    assert sorted(finals).count((200, "completed")) == 1, finals
    assert set(finals) <= {
        (200, "completed"),
        (409, "already_completed"),
        (409, "document_not_open"),
    }
    for seen in outcomes[submitters:]:
        assert set(seen[:-1]) <= {(409, "parts_open")}

    (result,) = results(api, tenant)
    assert result["lines"][0]["actual_qty"] == sum(qty_of(i)[0] for i in range(N))
    assert result["lines"][1]["actual_qty"] == sum(qty_of(i)[1] for i in range(N))
    doc_out = document(api, tenant, document_id)
    assert doc_out["result_ids"] == [result["id"]]
    assert Counter(kinds(doc_out))["completed"] == 1
    assert Counter(kinds(doc_out))["part_submitted"] == N
