"""Admin webhook settings, the test ping, dead letters, and the outbox entry of a completion."""

import base64
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from relay.extensions import db
from relay.models import OutboxEntry, WebhookEndpoint
from relay.models.webhook import webhook_id
from relay.online.sealing import Keys
from relay.timeutil import utcnow
from tests.helpers import Client, TenantKeys
from tests.receiver import Receiver, Reply, free_port

WEBHOOK = "/api/v1/admin/webhook"
DEAD = "/api/v1/admin/dead-letters"


def entries(app: Flask) -> list[OutboxEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))
        db.session.remove()
    return rows


def kill(app: Flask, error: str = "HTTP 500") -> None:
    """Make every outbox entry a dead letter, as the worker does after the last attempt."""
    with app.app_context():
        db.session.execute(
            update(OutboxEntry).values(
                state="dead",
                attempts=3,
                last_status=500,
                last_error=error,
                last_attempt_at=utcnow(),
            )
        )
        db.session.commit()


# -- settings ----------------------------------------------------------------------------------


def test_the_first_put_shows_the_secret_and_later_answers_never_do(
    api: Client, tenant: TenantKeys, lan: Flask
) -> None:
    first = api.put(WEBHOOK, tenant.admin_key, {"url": "http://127.0.0.1:9/hooks"})
    assert first.status_code == 200, first.json
    assert first.json["secret"].startswith("whsec_")
    assert first.json["enabled"] is True
    assert first.json["outbox"] == {"pending": 0, "dead": 0}
    again = api.put(WEBHOOK, tenant.admin_key, {"url": "http://127.0.0.1:10/hooks"})
    assert "secret" not in again.json
    read = api.get(WEBHOOK, tenant.admin_key).json
    assert "secret" not in read
    assert read["url"] == "http://127.0.0.1:10/hooks"
    assert read["disabled_reason"] is None
    assert read["previous_secret_valid_until"] is None


def test_a_loopback_url_is_refused_without_allow_private(api: Client, tenant: TenantKeys) -> None:
    response = api.put(WEBHOOK, tenant.admin_key, {"url": "http://127.0.0.1:8080/hooks"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "webhook_url_not_allowed"
    assert "loopback" in error["details"]["fields"]["url"][0]
    assert api.get(WEBHOOK, tenant.admin_key).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x"},
        {"url": ""},
        {"enabled": True},
        {"url": "http://127.0.0.1/x", "secret": "whsec_mine"},
        {"url": "http://127.0.0.1/x", "enabled": "perhaps"},
    ],
)
def test_bad_settings_are_refused_with_field_errors(
    api: Client, tenant: TenantKeys, lan: Flask, body: dict[str, object]
) -> None:
    response = api.put(WEBHOOK, tenant.admin_key, body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["details"]["fields"]


def test_webhook_settings_need_the_admin_key(api: Client, tenant: TenantKeys) -> None:
    for method, path in [
        ("GET", WEBHOOK),
        ("PUT", WEBHOOK),
        ("POST", WEBHOOK + "/rotate-secret"),
        ("POST", WEBHOOK + "/test"),
        ("GET", DEAD),
        ("POST", DEAD + "/replay-all"),
    ]:
        response = api.call(method, path, tenant.accounting_key, json={"url": "http://x.example/"})
        assert response.status_code == 403, (method, path)
        assert api.call(method, path).status_code == 401


def test_without_a_webhook_read_rotate_and_ping_say_so(api: Client, tenant: TenantKeys) -> None:
    for method, path in [
        ("GET", WEBHOOK),
        ("POST", WEBHOOK + "/rotate-secret"),
        ("POST", WEBHOOK + "/test"),
    ]:
        response = api.call(method, path, tenant.admin_key)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "webhook_not_configured"


def test_another_tenants_webhook_is_invisible(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, lan: Flask
) -> None:
    api.set_webhook(tenant, "http://127.0.0.1:9/hooks")
    assert api.get(WEBHOOK, other_tenant.admin_key).status_code == 404


def test_disabling_and_enabling_again(api: Client, tenant: TenantKeys, lan: Flask) -> None:
    api.set_webhook(tenant, "http://127.0.0.1:9/hooks")
    off = api.put(WEBHOOK, tenant.admin_key, {"url": "http://127.0.0.1:9/hooks", "enabled": False})
    assert off.json["enabled"] is False
    assert api.get(WEBHOOK, tenant.admin_key).json["enabled"] is False


# -- secret rotation and the test ping -----------------------------------------------------


def test_ping_is_signed_and_reports_the_receivers_answer(
    api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver
) -> None:
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    response = api.post(WEBHOOK + "/test", tenant.admin_key)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["delivered"] is True
    assert body["status"] == 200
    assert body["error"] is None
    assert body["webhook_id"].startswith("msg_")
    (delivery,) = receiver.deliveries
    assert delivery.webhook_id == body["webhook_id"]
    assert delivery.body["type"] == "ping"
    assert delivery.body["data"] == {"tenant": "acme"}
    assert receiver.failures == []


def test_credentials_in_the_url_go_as_basic_auth(
    api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver
) -> None:
    """A 1C HTTP service usually wants Basic auth: user and password ride in the URL."""
    url = receiver.url.replace("http://", "http://relay:s%40cret@")
    api.set_webhook(tenant, url)
    assert api.post(WEBHOOK + "/test", tenant.admin_key).json["delivered"] is True
    assert (
        receiver.deliveries[0].authorization
        == "Basic " + base64.b64encode(b"relay:s@cret").decode()
    )


def test_credentials_in_the_url_are_never_shown_back(
    api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver
) -> None:
    url = receiver.url.replace("http://", "http://relay:s%40cret@") + "/hs/relay"
    put = api.put(WEBHOOK, tenant.admin_key, {"url": url, "enabled": True})
    shown = receiver.url.replace("http://", "http://***@") + "/hs/relay"
    assert put.json["url"] == shown
    read = api.get(WEBHOOK, tenant.admin_key)
    assert read.json["url"] == shown
    assert "s%40cret" not in read.get_data(as_text=True)
    # What GET showed can be PUT back: the stored credentials stay.
    again = api.put(WEBHOOK, tenant.admin_key, {"url": shown, "enabled": True})
    assert again.status_code == 200, again.json
    assert api.post(WEBHOOK + "/test", tenant.admin_key).json["delivered"] is True
    assert (
        receiver.deliveries[0].authorization
        == "Basic " + base64.b64encode(b"relay:s@cret").decode()
    )


def test_the_secret_is_sealed_at_rest(api: Client, tenant: TenantKeys, lan: Flask) -> None:
    secret = api.set_webhook(tenant, "http://127.0.0.1:9/hooks")
    assert secret is not None
    rotated = api.post(WEBHOOK + "/rotate-secret", tenant.admin_key).json["secret"]
    with lan.app_context():
        row = db.session.scalars(select(WebhookEndpoint)).one()
        stored = (row.secret, row.previous_secret)
        db.session.remove()
    assert secret not in stored
    assert rotated not in stored
    assert not any(value.startswith("whsec_") for value in stored if value)
    keys = Keys.of(lan.config["SECRET_KEY"])
    assert (keys.open(stored[0]), keys.open(stored[1] or "")) == (rotated, secret)


def test_ping_works_with_the_endpoint_disabled_and_leaves_it_so(
    api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver
) -> None:
    receiver.plan = [Reply(status=410)]
    api.set_webhook(tenant, receiver.url, enabled=False)
    assert api.post(WEBHOOK + "/test", tenant.admin_key).json["status"] == 410
    settings = api.get(WEBHOOK, tenant.admin_key).json
    assert (settings["enabled"], settings["disabled_reason"]) == (False, None)


def test_ping_reports_a_refusal_and_an_unreachable_receiver(
    api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver
) -> None:
    receiver.plan = [Reply(status=503)]
    api.set_webhook(tenant, receiver.url)
    refused = api.post(WEBHOOK + "/test", tenant.admin_key).json
    assert refused["delivered"] is False
    assert refused["status"] == 503
    assert refused["error"].startswith("HTTP 503")
    api.set_webhook(tenant, f"http://127.0.0.1:{free_port()}/hooks")
    down = api.post(WEBHOOK + "/test", tenant.admin_key).json
    assert down["delivered"] is False
    assert down["status"] is None
    assert "refused" in down["error"].lower()


def test_a_rotation_shows_the_new_secret_once_and_both_sign_during_the_grace(
    api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver
) -> None:
    old = str(api.set_webhook(tenant, receiver.url))
    before = datetime.fromisoformat(utcnow().isoformat())
    rotated = api.post(WEBHOOK + "/rotate-secret", tenant.admin_key)
    assert rotated.status_code == 200, rotated.json
    new = rotated.json["secret"]
    assert new.startswith("whsec_")
    assert new != old
    until = datetime.fromisoformat(rotated.json["previous_secret_valid_until"])
    grace = timedelta(seconds=lan.config["WEBHOOK_ROTATION_GRACE_SECONDS"])
    assert before + grace - timedelta(seconds=5) < until < before + grace + timedelta(seconds=5)
    assert "secret" not in api.get(WEBHOOK, tenant.admin_key).json
    receiver.secrets = [old, new]
    assert api.post(WEBHOOK + "/test", tenant.admin_key).json["delivered"] is True
    assert receiver.failures == []
    assert len(receiver.deliveries[0].signature.split(" ")) == 2


def test_after_the_grace_only_the_new_secret_signs(
    api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(lan.config, "WEBHOOK_ROTATION_GRACE_SECONDS", 0)
    api.set_webhook(tenant, receiver.url)
    new = api.post(WEBHOOK + "/rotate-secret", tenant.admin_key).json["secret"]
    receiver.secrets = [new]
    assert api.post(WEBHOOK + "/test", tenant.admin_key).json["delivered"] is True
    assert receiver.failures == []
    assert len(receiver.deliveries[0].signature.split(" ")) == 1


# -- the outbox entry of a completion -------------------------------------------------------


def test_an_online_completion_writes_its_outbox_entry(
    api: Client, tenant: TenantKeys, app: Flask
) -> None:
    terminal = api.enroll(tenant, mode="online")
    result_id = api.result(tenant, terminal)
    (entry,) = entries(app)
    assert str(entry.result_id) == result_id
    assert entry.state == "pending"
    assert entry.attempts == 0
    assert entry.webhook_id == webhook_id(entry.id)
    feed = api.get("/api/v1/results", tenant.accounting_key).json["results"]
    assert [r["id"] for r in feed] == [result_id]
    assert feed[0]["completed_by"]["mode"] == "online"
    assert feed[0]["on_load"]["write"] is True


def test_an_offline_completion_writes_none(api: Client, tenant: TenantKeys, app: Flask) -> None:
    api.result(tenant, api.enroll(tenant))
    assert entries(app) == []


def test_acknowledging_an_online_result_by_pull_cancels_its_delivery(
    api: Client, tenant: TenantKeys, app: Flask
) -> None:
    result_id = api.result(tenant, api.enroll(tenant, mode="online"))
    api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [result_id]})
    (entry,) = entries(app)
    assert entry.state == "skipped"


# -- dead letters -----------------------------------------------------------------------------


def test_dead_letters_are_listed_paged_and_replayed(
    api: Client, tenant: TenantKeys, app: Flask
) -> None:
    terminal = api.enroll(tenant, mode="online")
    results = [api.result(tenant, terminal, n) for n in (1, 2, 3)]
    kill(app)
    first = api.get(DEAD + "?limit=2", tenant.admin_key).json
    assert [d["result_id"] for d in first["dead_letters"]] == results[:2]
    letter = first["dead_letters"][0]
    assert letter["id"].startswith("msg_")
    assert letter["external_id"] == "ЗаказПоставщику-0000-000001"
    assert letter["business_process"] == "purchase-receipt"
    assert letter["attempts"] == 3
    assert letter["last_status"] == 500
    assert letter["last_error"] == "HTTP 500"
    rest = api.get(f"{DEAD}?limit=2&after={first['next']}", tenant.admin_key).json
    assert [d["result_id"] for d in rest["dead_letters"]] == results[2:]
    assert rest["next"] is None
    assert api.get(WEBHOOK, tenant.admin_key).status_code == 404

    replayed = api.post(f"{DEAD}/{letter['id']}/replay", tenant.admin_key)
    assert replayed.status_code == 200, replayed.json
    assert replayed.json["state"] == "pending"
    assert replayed.json["attempts"] == 0
    assert replayed.json["id"] == letter["id"]
    again = api.post(f"{DEAD}/{letter['id']}/replay", tenant.admin_key)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "not_dead_letter"
    assert len(api.get(DEAD, tenant.admin_key).json["dead_letters"]) == 2
    assert api.post(DEAD + "/replay-all", tenant.admin_key).json == {"replayed": 2}
    assert api.get(DEAD, tenant.admin_key).json["dead_letters"] == []
    assert {e.state for e in entries(app)} == {"pending"}
    assert all(e.next_attempt_at <= utcnow() for e in entries(app))


def test_a_dead_letters_result_stays_in_the_feed_until_acknowledged(
    api: Client, tenant: TenantKeys, app: Flask
) -> None:
    result_id = api.result(tenant, api.enroll(tenant, mode="online"))
    kill(app)
    feed = api.get("/api/v1/results", tenant.accounting_key).json["results"]
    assert [r["id"] for r in feed] == [result_id]
    api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [result_id]})
    assert api.get(DEAD, tenant.admin_key).json["dead_letters"] == []


def test_replay_finds_by_uuid_too_and_refuses_strangers(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, app: Flask
) -> None:
    api.result(tenant, api.enroll(tenant, mode="online"))
    kill(app)
    (entry,) = entries(app)
    assert api.post(f"{DEAD}/{entry.id}/replay", other_tenant.admin_key).status_code == 404
    for bad in ("msg_nothing", "not-an-id", f"msg_{'0' * 32}"):
        response = api.post(f"{DEAD}/{bad}/replay", tenant.admin_key)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "dead_letter_not_found"
    assert api.post(f"{DEAD}/{entry.id}/replay", tenant.admin_key).status_code == 200


def test_a_bad_dead_letter_cursor_is_refused(api: Client, tenant: TenantKeys) -> None:
    response = api.get(DEAD + "?after=zzz", tenant.admin_key)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_cursor"


def test_the_openapi_document_describes_the_webhook(api: Client) -> None:
    spec = api.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/admin/webhook",
        "/api/v1/admin/webhook/rotate-secret",
        "/api/v1/admin/webhook/test",
        "/api/v1/admin/dead-letters",
        "/api/v1/admin/dead-letters/{entry_id}/replay",
        "/api/v1/admin/dead-letters/replay-all",
    ):
        assert path in spec["paths"], path
    assert (
        "whsec_"
        in spec["components"]["schemas"]["WebhookOut"]["properties"]["secret"]["description"]
    )
