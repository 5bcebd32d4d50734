"""Catalog versions under real concurrency, on SQLite and on PostgreSQL.

Two uploads commit at the same moment while terminals read the catalog: the commits get two
different versions, each applied whole, and no read ever shows a version half applied. Every
thread has its own Flask test client, so its own application context, session and database
connection; a barrier releases them together (tests/racing.py).
"""

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.api.test_catalogs import UPLOADS, commit, merge, open_upload, packet
from tests.helpers import Client, TenantKeys, Terminal
from tests.racing import race

pytestmark = pytest.mark.timeout(120)

SIZE = 1500
PACKET = 500


def generation(tag: str) -> list[dict[str, Any]]:
    """Every item of the catalog, all stamped with one generation."""
    return [
        {"id": f"pr-{n:05}", "product_id": f"p-{n:05}", "price": Decimal(n), "generation": tag}
        for n in range(SIZE)
    ]


def prepared_upload(api: Client, tenant: TenantKeys, tag: str) -> str:
    items = generation(tag)
    upload = open_upload_for(api, tenant, SIZE // PACKET)
    for n in range(SIZE // PACKET):
        response = api.put(
            f"/api/v1/catalogs/prices/uploads/{upload}/packets/{n + 1}",
            tenant.accounting_key,
            {"items": items[n * PACKET : (n + 1) * PACKET]},
        )
        assert response.status_code == 200, response.json
    return upload


def open_upload_for(api: Client, tenant: TenantKeys, packets: int) -> str:
    response = api.post(
        "/api/v1/catalogs/prices/uploads",
        tenant.accounting_key,
        {"mode": "mirror", "packets": packets},
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def test_two_commits_and_a_reader_never_meet_half_a_version(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal: Terminal = api.enroll(tenant)
    seed = api.put(
        "/api/v1/catalogs/prices/items",
        tenant.accounting_key,
        {"items": generation("seed")[:PACKET]},
    )
    assert seed.status_code == 200, seed.json
    for start in range(PACKET, SIZE, PACKET):
        more = api.put(
            "/api/v1/catalogs/prices/items",
            tenant.accounting_key,
            {"items": generation("seed")[start : start + PACKET]},
        )
        assert more.status_code == 200, more.json
    base = more.json["version"]
    uploads = {tag: prepared_upload(api, tenant, tag) for tag in ("A", "B")}
    done = threading.Event()
    seen: list[tuple[int, str]] = []

    def committer(tag: str) -> tuple[str, int, dict[str, Any]]:
        client = Client(app.test_client())
        for _ in range(10):
            response = client.post(
                f"/api/v1/catalogs/prices/uploads/{uploads[tag]}/commit", tenant.accounting_key, {}
            )
            # On a loaded machine the loser may wait for the catalog's lock longer than
            # POSTGRES_LOCK_TIMEOUT_MS: "busy", nothing applied, retry (as relay.client does).
            if response.json.get("error", {}).get("code") != "busy":
                break
        return tag, response.status_code, response.json

    def reader() -> int:
        client = Client(app.test_client())
        deadline = time.monotonic() + 60
        reads = 0
        while time.monotonic() < deadline:
            last = done.is_set()
            response = client.get(
                f"/api/v1/terminal/catalogs/prices?since=0&limit={SIZE}", terminal.token
            )
            assert response.status_code == 200, response.json
            body = response.json
            tags = {item["generation"] for item in body["items"]}
            # One version is one generation, whole: never a mix, never a part.
            assert len(tags) == 1, (body["version"], sorted(tags))
            assert len(body["items"]) == SIZE
            seen.append((body["version"], tags.pop()))
            reads += 1
            if last:
                return reads
        raise AssertionError("the commits did not finish in time")

    finished: list[str] = []
    lock = threading.Lock()

    def commits_then_done(tag: str) -> tuple[str, int, dict[str, Any]]:
        try:
            return committer(tag)
        finally:
            with lock:
                finished.append(tag)
                if len(finished) == 2:
                    done.set()

    answers = race([lambda: commits_then_done("A"), lambda: commits_then_done("B"), reader, reader])
    results = [a for a in answers if isinstance(a, tuple)]
    assert sum(a for a in answers if isinstance(a, int)) >= 4
    assert [status for _, status, _ in results] == [200, 200], results
    versions = {tag: body["version"] for tag, _, body in results}
    assert sorted(versions.values()) == [base + 1, base + 2]
    expected = {base: "seed", **{v: tag for tag, v in versions.items()}}
    for version, tag in seen:
        assert expected[version] == tag, (version, tag)
    assert seen[-1] == (base + 2, expected[base + 2])
    last = api.get(
        f"/api/v1/terminal/catalogs/prices?since={base + 1}&limit={SIZE}", terminal.token
    )
    assert len(last.json["items"]) == SIZE


def test_concurrent_merges_take_one_version_each(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    merge(api, tenant, [{"id": "p-000", "name": "x", "unit": "шт"}])

    def one(n: int) -> Any:
        item = {"id": f"p-{n:03}", "name": f"Товар {n}", "unit": "шт"}
        response = Client(app.test_client()).put(
            "/api/v1/catalogs/products/items", tenant.accounting_key, {"items": [item]}
        )
        assert response.status_code == 200, response.json
        return response.json["version"]

    versions = race([lambda n=n: one(n) for n in range(1, 9)])
    assert sorted(versions) == list(range(2, 10))
    for n, version in zip(range(1, 9), versions, strict=True):
        body = api.get(
            f"/api/v1/terminal/catalogs/products?since={version - 1}", terminal.token
        ).json
        changed = [i["id"] for i in body["items"] if i["id"] != "p-000"]
        assert f"p-{n:03}" == changed[0]


def test_the_same_packet_sent_twice_at_once_is_kept_once(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    upload = open_upload(api, tenant, "merge", 1)
    items = [{"id": "p-1", "name": "x", "unit": "шт"}]

    def send() -> int:
        response = Client(app.test_client()).put(
            f"{UPLOADS}/{upload}/packets/1", tenant.accounting_key, {"items": items}
        )
        return response.status_code

    statuses = race([send, send, send])
    # One stores it; a loser of the race for the same key is told to retry (409 conflict) or,
    # having waited for the winner, answered like a repeat.
    assert 200 in statuses
    assert set(statuses) <= {200, 409}
    packet(api, tenant, upload, 1, items)
    assert commit(api, tenant, upload)["upserted"] == 1
