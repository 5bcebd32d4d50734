"""Request ids, GET /metrics and the enrollment QR code's address."""

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from relay.api.observe import REQUEST_ID_HEADER
from tests.helpers import Client, TenantKeys, doc


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text page (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        found = dict(
            part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part
        )
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(value)
    return 0.0


def test_a_sane_request_id_is_kept_and_returned(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={REQUEST_ID_HEADER: "req-42.a:b"})
    assert response.headers[REQUEST_ID_HEADER] == "req-42.a:b"


@pytest.mark.parametrize("header", ["", "x" * 129, "bad id", 'a"b', "ä"])
def test_an_insane_request_id_is_replaced(client: FlaskClient, header: str) -> None:
    response = client.get("/healthz", headers={REQUEST_ID_HEADER: header})
    given = response.headers[REQUEST_ID_HEADER]
    assert given != header
    assert len(given) == 32


def test_errors_carry_a_request_id_too(client: FlaskClient) -> None:
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert len(response.headers[REQUEST_ID_HEADER]) == 32


def test_metrics_count_requests_by_endpoint_and_status(client: FlaskClient) -> None:
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        client.get("/healthz")
    client.get("/api/v1/nowhere")
    page = client.get("/metrics")
    assert page.status_code == 200
    assert page.mimetype == "text/plain"
    text = page.get_data(as_text=True)
    name = "relay_http_requests_total"
    ok = {"endpoint": "health.Healthz", "method": "GET", "status": "200"}
    assert sample(text, name, **ok) - sample(before, name, **ok) == 3
    missing = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert sample(text, name, **missing) - sample(before, name, **missing) == 1
    count = "relay_http_request_duration_seconds_count"
    assert sample(text, count, endpoint="health.Healthz") >= 3


def test_sqlite_write_lock_hold_is_measured_per_endpoint(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    """Each write transaction's hold of SQLite's write lock lands in a histogram by endpoint;
    reads take no write lock and are not counted."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    terminal = api.enroll(tenant)
    name = "relay_sqlite_write_lock_seconds_count"
    before = api.get("/metrics").get_data(as_text=True)
    for n in range(3):
        api.push(tenant, "purchase-receipt", [doc(f"lock-{n}")], target={"pin": terminal.pin})
    api.get("/api/v1/terminal/documents", terminal.token)
    text = api.get("/metrics").get_data(as_text=True)
    pushes = sample(text, name, endpoint="documents.DocumentsView")
    assert pushes - sample(before, name, endpoint="documents.DocumentsView") == 3
    inbox = "terminal.InboxView"
    assert sample(text, name, endpoint=inbox) == sample(before, name, endpoint=inbox)
    held = sample(text, "relay_sqlite_write_lock_seconds_sum", endpoint="documents.DocumentsView")
    assert 0 < held < 30


def test_domain_gauges(
    app: Flask, api: Client, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.extensions["relay_gauges"], "ttl", 0.0)
    terminal = api.enroll(tenant)
    api.push(tenant, "purchase-receipt", [doc("A-1"), doc("A-2")], {"pin": terminal.pin})
    instance = api.inbox(terminal)[0]["id"]
    api.claim(terminal, instance)
    text = api.get("/metrics").get_data(as_text=True)
    queued = sample(text, "relay_instances", business_process="purchase-receipt", state="queued")
    claimed = sample(text, "relay_instances", business_process="purchase-receipt", state="claimed")
    assert (queued, claimed) == (1, 1)
    assert sample(text, "relay_devices_seen") == 1
    assert sample(text, "relay_outbox_pending") == 0
    assert sample(text, "relay_outbox_dead") == 0


def test_gauges_are_cached_between_scrapes(app: Flask, api: Client, tenant: TenantKeys) -> None:
    collector = app.extensions["relay_gauges"]
    collector.ttl = 3600.0
    collector._taken = float("-inf")
    try:
        api.get("/metrics")
        terminal = api.enroll(tenant)
        api.push(tenant, "purchase-receipt", [doc("A-1")], {"pin": terminal.pin})
        text = api.get("/metrics").get_data(as_text=True)
        assert (
            sample(text, "relay_instances", business_process="purchase-receipt", state="queued")
            == 0
        )
    finally:
        collector.ttl = float(app.config["METRICS_CACHE_SECONDS"])
        collector._taken = float("-inf")


def test_metrics_are_for_loopback_clients_without_a_token(client: FlaskClient) -> None:
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.50"})
    assert far.status_code == 403
    assert far.json["error"]["code"] == "forbidden"
    assert "RELAY_METRICS_TOKEN" in far.json["error"]["message"]


def test_a_metrics_token_is_required_once_set(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-metrics")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get(
        "/metrics",
        headers={"Authorization": "Bearer s3cret-metrics"},
        environ_base={"REMOTE_ADDR": "192.168.1.50"},
    )
    assert right.status_code == 200


def test_qr_payload_warns_when_the_address_is_loopback(
    api: Client, tenant: TenantKeys, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        body = api.post("/api/v1/admin/enrollment-codes", tenant.admin_key, {}).json
    assert json.loads(body["qr_payload"])["relay"] == "http://localhost"
    assert "loopback" in body["warning"]
    assert "RELAY_PUBLIC_URL" in body["warning"]
    assert any("loopback" in r.getMessage() for r in caplog.records)


def test_qr_payload_carries_the_public_url_or_the_lan_address(
    app: Flask, client: FlaskClient, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = {"Authorization": f"Bearer {tenant.admin_key}"}
    lan = client.post(
        "/api/v1/admin/enrollment-codes", json={}, headers=auth, base_url="http://192.168.1.10:8000"
    ).json
    assert json.loads(lan["qr_payload"])["relay"] == "http://192.168.1.10:8000"
    assert lan["warning"] is None
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://relay.shop.example")
    public = client.post("/api/v1/admin/enrollment-codes", json={}, headers=auth).json
    assert json.loads(public["qr_payload"])["relay"] == "https://relay.shop.example"
    assert public["warning"] is None
