"""The admin console through the test client: security, scoping, pages, query counts."""

import re
import uuid
from collections.abc import Callable

import pytest
from flask import Flask

from relay.db import transaction
from tests.helpers import Client, TenantKeys, doc, sql_sent
from tests.web.conftest import PASSWORD, Console, csrf_of, make_account


def test_pages_need_sign_in(client):
    response = client.get("/admin/devices")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/sign-in")


def test_every_page_renders_with_strict_headers(admin_console: Console):
    for path in (
        "/admin/",
        "/admin/processes",
        "/admin/processes/purchase-receipt",
        "/admin/processes/purchase-receipt/versions",
        "/admin/devices",
        "/admin/enrollment",
        "/admin/users",
        "/admin/documents",
        "/admin/results",
        "/admin/catalogs",
        "/admin/dead-letters",
        "/admin/webhook",
        "/admin/audit",
        "/admin/accounts",
    ):
        response = admin_console.client.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_is_httponly_lax_and_scoped(app: Flask, tenant: TenantKeys):
    make_account(app, tenant)
    browser = Console(app.test_client())
    browser.refresh_token("/admin/sign-in")
    response = browser.post(
        "/admin/sign-in", {"tenant": tenant.name, "login": "boss", "password": PASSWORD}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/admin/" in cookie
    assert "Secure" not in cookie
    over_https = app.test_client().get("/admin/sign-in", base_url="https://relay.example")
    assert "Secure" in over_https.headers["Set-Cookie"]


def test_api_stays_cookie_free(admin_console: Console, tenant: TenantKeys):
    response = admin_console.client.get(
        "/api/v1/devices", headers={"Authorization": f"Bearer {tenant.accounting_key}"}
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_post_without_csrf_token_is_refused_and_changes_nothing(admin_console: Console):
    response = admin_console.client.post(
        "/admin/users", data={"login": "mallory", "password": "secret-1"}
    )
    assert response.status_code == 400
    assert "mallory" not in admin_console.client.get("/admin/users").text


def test_post_with_csrf_token_works_and_is_audited(admin_console: Console):
    response = admin_console.post(
        "/admin/users", {"login": "ivanov", "name": "Иванов", "password": "secret-1"}
    )
    assert response.status_code == 302
    assert "ivanov" in admin_console.client.get("/admin/users").text
    audit = admin_console.client.get("/admin/audit").text
    assert "user.create" in audit
    assert "boss" in audit


def test_cookie_is_dead_after_sign_out(app: Flask, admin_console: Console):
    cookie = admin_console.client.get_cookie("relay_console", path="/admin/")
    assert cookie is not None
    stolen = cookie.value
    assert admin_console.post("/admin/sign-out").status_code == 302
    replay = app.test_client()
    replay.set_cookie("relay_console", stolen, path="/admin/")
    response = replay.get("/admin/devices")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/sign-in")


def test_idle_session_times_out(app: Flask, admin_console: Console, monkeypatch):
    monkeypatch.setitem(app.config, "CONSOLE_IDLE_MINUTES", 0)
    assert admin_console.client.get("/admin/devices").status_code == 302


def test_another_tenants_objects_are_not_reachable(
    app: Flask,
    api: Client,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
    console_for: Callable[[TenantKeys, str], Console],
):
    theirs = api.enroll(other_tenant, name="Чужой ТСД")
    pushed = api.push(other_tenant, "purchase-receipt", [doc()], {"pin": theirs.pin}).json
    document_id = pushed["documents"][0]["id"]
    mine = console_for(tenant, "boss")
    assert mine.client.get(f"/admin/devices/{theirs.device_id}").status_code == 404
    assert mine.client.get(f"/admin/documents/{document_id}").status_code == 404
    assert mine.post(f"/admin/devices/{theirs.device_id}/revoke").status_code == 404
    assert mine.post(f"/admin/documents/{document_id}/cancel").status_code == 302
    theirs_console = console_for(other_tenant, "them")
    page = theirs_console.client.get(f"/admin/documents/{document_id}").text
    assert "в очереди" in page or "queued" in page
    assert "Чужой ТСД" not in mine.client.get("/admin/devices").text


def test_admin_key_signs_in_only_to_create_the_first_account(app: Flask, tenant: TenantKeys):
    browser = Console(app.test_client())
    browser.refresh_token("/admin/sign-in")
    response = browser.post("/admin/sign-in", {"admin_key": tenant.admin_key})
    assert response.headers["Location"] == "/admin/accounts"
    assert browser.client.get("/admin/devices").headers["Location"] == "/admin/accounts"
    browser.refresh_token("/admin/accounts")
    short = browser.post("/admin/accounts", {"login": "first", "password": "short"})
    assert short.status_code == 422
    assert "8" in short.text
    created = browser.post("/admin/accounts", {"login": "first", "password": PASSWORD})
    assert created.headers["Location"] == "/admin/sign-in"
    browser.refresh_token("/admin/sign-in")
    again = browser.post("/admin/sign-in", {"admin_key": tenant.admin_key})
    assert again.status_code == 200
    assert "first" not in again.headers.get("Location", "")


def test_wrong_passwords_lock_the_account(app: Flask, tenant: TenantKeys, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_FAILURES", 3)
    make_account(app, tenant)
    browser = Console(app.test_client())
    browser.refresh_token("/admin/sign-in")
    for _ in range(3):
        wrong = browser.post(
            "/admin/sign-in", {"tenant": tenant.name, "login": "boss", "password": "nope"}
        )
        assert wrong.status_code == 200
    locked = browser.post(
        "/admin/sign-in", {"tenant": tenant.name, "login": "boss", "password": PASSWORD}
    )
    assert locked.status_code == 429


def test_failed_sign_ins_are_rate_limited_per_address(app: Flask, tenant: TenantKeys, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_CONSOLE_SIGN_IN", "2 per 10 minutes")
    browser = Console(app.test_client())
    browser.refresh_token("/admin/sign-in")
    statuses = [
        browser.post(
            "/admin/sign-in", {"tenant": tenant.name, "login": f"x{n}", "password": "nope"}
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_process_form_shows_errors_beside_fields_and_saves(admin_console: Console):
    page = admin_console.client.get("/admin/processes/order-picking").text
    form = dict(re.findall(r'<input name="([^"]+)" value="([^"]*)"', page))
    form.update({"assign_to": "device", "quantity_control": "exact", "collective_work": "on"})
    form["on_load.write_after_load"] = "always"
    bad = admin_console.post("/admin/processes/order-picking", form)
    assert bad.status_code == 422
    assert 'data-field="collective_work"' in bad.text
    del form["collective_work"]
    good = admin_console.post("/admin/processes/order-picking", form)
    assert good.status_code == 302
    versions = admin_console.client.get("/admin/processes/order-picking/versions").text
    assert "assign_to" in versions
    assert "device" in versions


def test_reset_and_copy_a_process(admin_console: Console):
    assert (
        admin_console.post("/admin/processes/price-check/enabled", {"enabled": "0"}).status_code
        == 302
    )
    assert admin_console.post("/admin/processes/price-check/reset").status_code == 302
    copied = admin_console.post(
        "/admin/processes/price-check/copy", {"new_key": "price-check-2", "new_name": "Копия"}
    )
    assert copied.headers["Location"] == "/admin/processes/price-check-2"
    assert "Копия" in admin_console.client.get("/admin/processes").text


def test_enrollment_page_warns_about_loopback(admin_console: Console, app: Flask, monkeypatch):
    page = admin_console.post("/admin/enrollment", {"uses": "1", "hours": "24"})
    assert page.status_code == 200
    assert 'id="loopback-warning"' in page.text
    assert "<svg" in page.text
    monkeypatch.setitem(app.config, "PUBLIC_URL", "http://192.168.1.10:8000")
    page = admin_console.post("/admin/enrollment", {"uses": "1", "hours": "24"})
    assert 'id="loopback-warning"' not in page.text
    assert "http://192.168.1.10:8000" in page.text


def test_client_text_is_escaped(admin_console: Console, api: Client, tenant: TenantKeys):
    terminal = api.enroll(tenant, name="<script>alert(1)</script>")
    pushed = api.push(
        tenant,
        "purchase-receipt",
        [doc(header={"comment": "<img src=x onerror=alert(1)>"})],
        {"pin": terminal.pin},
    ).json
    page = admin_console.client.get(f"/admin/documents/{pushed['documents'][0]['id']}").text
    assert "<img src=x" not in page
    assert "&lt;img src=x" in page
    assert "<script>alert" not in admin_console.client.get("/admin/devices").text


def test_language_switch_sticks(admin_console: Console):
    english = admin_console.client.get("/admin/devices", headers={"Accept-Language": "en"})
    assert "Devices" in english.text
    admin_console.client.get("/admin/language/ru?next=/admin/devices")
    russian = admin_console.client.get("/admin/devices", headers={"Accept-Language": "en"})
    assert "Устройства" in russian.text


def _bulk_documents(app: Flask, tenant: TenantKeys, count: int) -> None:
    """Insert ``count`` queued documents with their instances (rows as a push writes them)."""
    from relay.ids import new_id
    from relay.models import Document, Event, Instance, InstanceAddressee
    from relay.timeutil import utcnow

    with app.app_context(), transaction() as session:
        now = utcnow()
        docs, instances, addressed, events = [], [], [], []
        for n in range(count):
            doc_id, instance_id = new_id(), new_id()
            docs.append(
                {
                    "tenant_id": tenant.id, "id": doc_id, "business_process": "order-picking",
                    "business_process_version": 1, "external_id": f"bulk-{n}", "number": str(n),
                    "date": None, "header": {}, "lines": [], "target": None, "next_target": None,
                    "chained_from_result_id": None, "content_hash": "x", "version": 1,
                    "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
            instances.append(
                {
                    "tenant_id": tenant.id, "id": instance_id, "document_id": doc_id,
                    "state": "queued", "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
            addressed.append(
                {"tenant_id": tenant.id, "instance_id": instance_id, "key": "all", "listed": True}
            )
            events.append(
                {
                    "tenant_id": tenant.id, "id": new_id(), "document_id": doc_id,
                    "instance_id": instance_id, "kind": "pushed", "at": now, "actor": "accounting",
                    "details": {},
                }
            )  # fmt: skip
        for model, rows in (
            (Document, docs),
            (Instance, instances),
            (InstanceAddressee, addressed),
            (Event, events),
        ):
            session.execute(model.__table__.insert(), rows)


@pytest.mark.timeout(600)
def test_overview_and_documents_list_take_a_bounded_number_of_queries(
    app: Flask, tenant: TenantKeys, admin_console: Console
):
    _bulk_documents(app, tenant, 10_000)
    with sql_sent(app) as statements:
        overview = admin_console.client.get("/admin/")
    assert overview.status_code == 200
    assert 'id="state-queued">10000<' in overview.text
    overview_count = len(statements)
    with sql_sent(app) as statements:
        listed = admin_console.client.get("/admin/documents?state=queued")
    assert listed.status_code == 200
    assert listed.text.count("/admin/documents/") >= 50
    assert "Next page" in listed.text or "Следующая страница" in listed.text
    list_count = len(statements)
    # Session lookup, then the page's own queries: none per row.
    assert overview_count <= 8, overview_count
    assert list_count <= 6, list_count
    app.config["CONSOLE_COUNT_CAP"] = 100
    try:
        capped = admin_console.client.get("/admin/")
    finally:
        app.config["CONSOLE_COUNT_CAP"] = 10_000
    assert 'id="state-queued">100+<' in capped.text


def test_unknown_document_is_404(admin_console: Console):
    assert admin_console.client.get(f"/admin/documents/{uuid.uuid4()}").status_code == 404
    assert admin_console.client.get("/admin/documents/not-a-uuid").status_code == 404


def test_signed_in_page_has_a_token(admin_console: Console):
    assert csrf_of(admin_console.client.get("/admin/webhook").text)


def test_users_groups_membership_and_password(admin_console: Console, api: Client, tenant):
    for login in ("petrov", "sidorov"):
        created = admin_console.post("/admin/users", {"login": login, "password": "secret-1"})
        assert created.status_code == 302
    made = admin_console.post("/admin/groups", {"name": "Кладовщики", "members": "petrov"})
    assert made.status_code == 302
    admin_console.post(
        "/admin/groups/Кладовщики", {"name": "Кладовщики", "members": "petrov, sidorov"}
    )
    assert api.get("/api/v1/admin/groups/Кладовщики", tenant.admin_key).json["members"] == [
        "petrov",
        "sidorov",
    ]
    unknown = admin_console.post(
        "/admin/groups/Кладовщики", {"name": "Кладовщики", "members": "nobody"}
    )
    assert unknown.status_code == 302
    assert "nobody" in admin_console.client.get("/admin/users").text
    assert api.get("/api/v1/admin/groups/Кладовщики", tenant.admin_key).json["members"] == [
        "petrov",
        "sidorov",
    ]
    terminal = api.enroll(tenant)
    admin_console.post("/admin/users/petrov", {"name": "Петров", "password": "new-secret"})
    relogin = api.post(
        "/api/v1/terminal/sessions", terminal.token, {"login": "petrov", "password": "new-secret"}
    )
    assert relogin.status_code == 201


def test_document_filters(admin_console: Console, api: Client, tenant: TenantKeys):
    one = api.enroll(tenant, name="Один")
    two = api.enroll(tenant, name="Два")
    api.push(tenant, "purchase-receipt", [doc("ЗП-1")], {"pin": one.pin})
    api.push(tenant, "purchase-receipt", [doc("ЗП-2")], {"pin": two.pin})
    api.user(tenant, "ivanov")
    api.push(tenant, "order-picking", [doc("ЗК-1")], {"users": ["ivanov"]})

    def listed(query: str) -> set[str]:
        page = admin_console.client.get(f"/admin/documents?{query}").text
        return set(re.findall(r">(З[ПК]-\d)</a>", page))

    assert listed("") == {"ЗП-1", "ЗП-2", "ЗК-1"}
    assert listed(f"device={one.pin}") == {"ЗП-1"}
    assert listed("user=ivanov") == {"ЗК-1"}
    assert listed("user=nobody") == set()
    assert listed("q=ЗП-2") == {"ЗП-2"}
    assert listed("process=order-picking") == {"ЗК-1"}
    assert listed("state=claimed") == set()
    assert listed("from=2000-01-01&to=2000-01-02") == set()


def test_cancel_and_reroute_to_users_from_the_document_page(
    admin_console: Console, api: Client, tenant: TenantKeys
):
    api.user(tenant, "ivanov")
    api.user(tenant, "petrov")
    pushed = api.push(tenant, "order-picking", [doc("ЗК-7")], {"users": ["ivanov"]}).json
    document_id = pushed["documents"][0]["id"]
    moved = admin_console.post(
        f"/admin/documents/{document_id}/reroute", {"target": "users", "users": "petrov"}
    )
    assert moved.status_code == 302
    page = admin_console.client.get(f"/admin/documents/{document_id}").text
    assert "petrov" in page
    bad = admin_console.post(
        f"/admin/documents/{document_id}/reroute", {"target": "users", "users": "nobody"}
    )
    assert bad.status_code == 302
    assert "nobody" in admin_console.client.get(f"/admin/documents/{document_id}").text
    assert admin_console.post(f"/admin/documents/{document_id}/cancel").status_code == 302
    assert api.get(f"/api/v1/documents/{document_id}", tenant.accounting_key).json["state"] == (
        "cancelled"
    )


def test_webhook_save_ping_and_rotate(admin_console: Console, lan, receiver):
    saved = admin_console.post("/admin/webhook", {"url": receiver.url, "enabled": "on"})
    assert saved.status_code == 200
    secret = re.search(r'<code id="secret">([^<]+)</code>', saved.text)
    assert secret
    pinged = admin_console.post("/admin/webhook/test")
    assert 'id="ping-answer"' in pinged.text
    assert "HTTP 2" in pinged.text
    rotated = admin_console.post("/admin/webhook/rotate")
    new_secret = re.search(r'<code id="secret">([^<]+)</code>', rotated.text)
    assert new_secret
    assert new_secret.group(1) != secret.group(1)
    assert secret.group(1) not in admin_console.client.get("/admin/webhook").text


def test_relay_admin_create_cli(app: Flask, tenant: TenantKeys):
    runner = app.test_cli_runner()
    from relay.cli import cli

    done = runner.invoke(
        cli,
        ["admin", "create", "--tenant", tenant.name, "--password-stdin", "chief"],
        input="long-enough\n",
    )
    assert done.exit_code == 0, done.output
    again = runner.invoke(
        cli,
        ["admin", "create", "--tenant", tenant.name, "--password-stdin", "chief"],
        input="long-enough\n",
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    short = runner.invoke(
        cli,
        ["admin", "create", "--tenant", tenant.name, "--password-stdin", "other"],
        input="short\n",
    )
    assert short.exit_code == 1
    nobody = runner.invoke(
        cli,
        ["admin", "create", "--tenant", "no-such", "--password-stdin", "x"],
        input="long-enough\n",
    )
    assert nobody.exit_code == 1
