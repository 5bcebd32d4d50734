"""The admin console in Chromium against a real `relay serve`: what an admin actually does."""

import io
import json
import re

import zxingcpp
from flask import Flask
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import update

from relay.db import transaction
from relay.models import OutboxEntry
from tests.browser.admin.conftest import shoot, sign_in
from tests.helpers import Client, TenantKeys, doc
from tests.serving import LiveServer


def test_sign_in_and_overview(
    page_ru: Page, console_server: LiveServer, tenant: TenantKeys, account: str, api: Client
):
    terminal = api.enroll(tenant, name="ТСД Склад-1")
    api.push(
        tenant,
        "purchase-receipt",
        [doc(f"ЗаказПоставщику-0000-{n:06d}") for n in (1, 2, 3)],
        {"pin": terminal.pin},
    )
    api.result(tenant, terminal, n=4)
    page_ru.goto(f"{console_server.url}/admin/documents")
    expect(page_ru.locator("h1")).to_have_text("Вход в панель управления")
    page_ru.fill("input[name=tenant]", tenant.name)
    page_ru.fill("input[name=login]", account)
    page_ru.fill("input[name=password]", "wrong-password")
    page_ru.click("form.stack button[type=submit] >> nth=0")
    expect(page_ru.locator(".flash.error")).to_contain_text("Неверна организация, логин или пароль")
    sign_in(page_ru, console_server, tenant, account)
    expect(page_ru.locator("h1")).to_have_text("Обзор")
    expect(page_ru.locator("#state-queued")).to_have_text("3")
    expect(page_ru.locator("#completed-today")).to_have_text("1")
    expect(page_ru.locator("main")).to_contain_text("ТСД Склад-1")
    shoot(page_ru, "overview")


def test_process_form_validation_and_device_assignment(
    page_ru: Page, console_server: LiveServer, tenant, account
):
    sign_in(page_ru, console_server, tenant, account)
    page_ru.goto(f"{console_server.url}/admin/processes/order-picking")
    expect(page_ru.locator("h1")).to_have_text("Настройка бизнес-процесса")
    page_ru.fill("input[name=name]", "")
    page_ru.click("#save")
    expect(page_ru.locator('.field-error[data-field="name"]')).to_have_text(
        "Длина от 1 до 200 символов."
    )
    shoot(page_ru, "process-form")
    page_ru.fill("input[name=name]", "Отбор на конкретный ТСД")
    page_ru.select_option("#assign_to", label="Конкретному устройству")
    page_ru.select_option("#quantity_control", label="Точно заявленное количество")
    page_ru.click("#save")
    expect(page_ru.locator(".flash.ok")).to_contain_text("Сохранено: версия 2")
    page_ru.click("text=История версий")
    expect(page_ru.locator("table.diff").first).to_contain_text("assign_to")


def test_enrollment_qr_reads_back_and_enrolls(
    page_ru: Page, console_server: LiveServer, tenant, account, api: Client
):
    sign_in(page_ru, console_server, tenant, account)
    page_ru.goto(f"{console_server.url}/admin/enrollment")
    page_ru.click("#create-code")
    code = page_ru.locator("#code").inner_text().strip()
    expect(page_ru.locator("#loopback-warning")).to_be_visible()
    shoot(page_ru, "enrollment-qr")
    png = page_ru.locator("#qr svg").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1
    payload = json.loads(found[0].text)
    assert payload == {"relay": console_server.url, "code": code}
    enrolled = api.post(
        "/api/v1/terminal/enroll",
        json={"code": payload["code"], "name": "ТСД из QR", "model": "EDA50", "serial": "1"},
    )
    assert enrolled.status_code == 201, enrolled.json
    page_ru.goto(f"{console_server.url}/admin/devices")
    expect(page_ru.locator("table")).to_contain_text("ТСД из QR")
    expect(page_ru.locator("table")).to_contain_text(enrolled.json["pin"])
    shoot(page_ru, "devices")


def test_revoke_a_device_and_reroute_its_document(
    page_ru: Page, console_server: LiveServer, tenant: TenantKeys, account, api: Client
):
    lost = api.enroll(tenant, name="Потерянный ТСД")
    spare = api.enroll(tenant, name="Запасной ТСД")
    pushed = api.push(tenant, "purchase-receipt", [doc()], {"pin": lost.pin}).json
    document_id = pushed["documents"][0]["id"]
    sign_in(page_ru, console_server, tenant, account)
    page_ru.goto(f"{console_server.url}/admin/devices/{lost.device_id}")
    page_ru.click("#revoke")
    expect(page_ru.locator("#device-status")).to_have_text("отключено")
    unfinished = page_ru.locator("#unfinished")
    expect(unfinished).to_contain_text("ЗаказПоставщику-0000-000123")
    unfinished.locator("input[name=pin]").fill(spare.pin)
    unfinished.locator("button[type=submit]").click()
    expect(page_ru.locator(".flash.ok")).to_contain_text("Документ назначен новому адресату")
    expect(page_ru.locator("#no-unfinished")).to_be_visible()
    page_ru.goto(f"{console_server.url}/admin/documents/{document_id}")
    expect(page_ru.locator("#timeline")).to_contain_text("переназначен")
    expect(page_ru.locator("table >> nth=1")).to_contain_text("Запасной ТСД")
    shoot(page_ru, "document")
    assert [d["id"] for d in api.inbox(spare)] == [pushed["documents"][0]["instances"][0]["id"]]
    # Search as you type (htmx swaps the table in place, under the strict CSP).
    api.push(tenant, "purchase-receipt", [doc("ЗаказПоставщику-0000-000999")], {"pin": spare.pin})
    page_ru.goto(f"{console_server.url}/admin/documents")
    expect(page_ru.locator("#documents tbody tr")).to_have_count(2)
    page_ru.fill("input[name=q]", "ЗаказПоставщику-0000-000999")
    expect(page_ru.locator("#documents tbody tr")).to_have_count(1)
    expect(page_ru).to_have_url(re.compile(r"q=.*000999"))


def test_replay_a_dead_letter(
    page_ru: Page,
    console_server: LiveServer,
    tenant: TenantKeys,
    account: str,
    api: Client,
    lan: Flask,
):
    app = lan
    api.set_webhook(tenant, "http://127.0.0.1:9/results")
    terminal = api.enroll(tenant, mode="online")
    api.result(tenant, terminal)
    with app.app_context(), transaction() as session:
        # As the worker leaves an entry after its last failed attempt.
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.tenant_id == tenant.id)
            .values(state="dead", attempts=9, last_error="connection refused")
        )
    sign_in(page_ru, console_server, tenant, account)
    expect(page_ru.locator("#dead-letters")).to_have_text("1")
    page_ru.goto(f"{console_server.url}/admin/dead-letters")
    expect(page_ru.locator("#dead-letters")).to_contain_text("connection refused")
    page_ru.click("button.replay")
    expect(page_ru.locator(".flash.ok")).to_contain_text("Отправлено повторно")
    expect(page_ru.locator("#no-dead-letters")).to_be_visible()
    with app.app_context():
        from relay.extensions import db

        states = list(
            db.session.scalars(OutboxEntry.__table__.select().with_only_columns(OutboxEntry.state))
        )
        db.session.remove()
    assert states == ["pending"]


def test_switch_the_language(page_ru: Page, console_server: LiveServer, tenant, account):
    sign_in(page_ru, console_server, tenant, account)
    page_ru.goto(f"{console_server.url}/admin/devices")
    expect(page_ru.locator("h1")).to_have_text("Устройства")
    page_ru.click("#lang-en")
    expect(page_ru.locator("h1")).to_have_text("Devices")
    page_ru.reload()
    expect(page_ru.locator("h1")).to_have_text("Devices")
    page_ru.goto(f"{console_server.url}/admin/processes")
    expect(page_ru.locator("h1")).to_have_text("Business processes")
    page_ru.click("#lang-ru")
    expect(page_ru.locator("h1")).to_have_text("Бизнес-процессы")
