"""The terminal web app (/t/) as an operator uses it: enroll, scan with a "hardware" scanner
(the barcode typed + Enter), check, complete online and offline; the accounting side sees the
results through its own API."""

import random
import re
import time
from decimal import Decimal
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from relay.client import TerminalClient
from relay.documents import lines as relay_lines
from tests.browser.terminal.conftest import SCREENSHOTS, Shop

MILK = "4601234567890"
BREAD = "4600000000021"
SALT = "4600000000038"
KEFIR = "4600000000009"
MILK_BOX = "14601234567897"

RECEIPT_LINES = [
    {"line_id": "1", "product_id": "p-001", "name": "Молоко 1 л", "barcode": MILK,
     "unit": "шт", "declared_qty": 3},
    {"line_id": "2", "product_id": "p-002", "name": "Хлеб белый", "barcode": BREAD,
     "unit": "шт", "declared_qty": 4},
]  # fmt: skip


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"terminal-{name}.png"))


def open_app(page: Page) -> None:
    page.goto("/t/")
    page.wait_for_selector("body[data-ready=true]")


def enroll(page: Page, shop: Shop, name: str = "Склад-1") -> str:
    """Enroll the app with a code typed in; return the PIN it shows."""
    open_app(page)
    page.fill("#enroll-code", shop.enrollment_code())
    page.fill("#enroll-name", name)
    page.keyboard.press("Enter")
    pin = page.locator("#pin-big")
    expect(pin).to_have_text(re.compile(r"^\d{4,}$"))
    page.click("#pin-continue")
    return pin.inner_text()


def push(shop: Shop, pin: str, process: str, number: str, lines: list[dict[str, Any]]) -> str:
    answer = shop.accounting.push(
        process,
        [{"external_id": f"ext-{number}", "number": number, "date": "2026-12-07",
          "header": {"warehouse": "Основной склад", "counterparty": "ООО Ромашка"},
          "lines": lines}],
        target={"pin": pin},
    )  # fmt: skip
    return str(answer["documents"][0]["id"])


def take(page: Page, number: str) -> None:
    """Refresh the inbox, open the document and claim it."""
    page.click("#inbox-refresh")
    page.locator("#inbox-list button", has_text=number).click()
    page.click("#doc-claim")
    expect(page.locator("#scan")).to_be_focused()


def scan(page: Page, barcode: str) -> None:
    """What a hardware scanner in keyboard mode does: type the code, then Enter."""
    before = int(page.locator("#feedback").get_attribute("data-seq") or 0)
    page.keyboard.type(barcode)
    page.keyboard.press("Enter")
    expect(page.locator("#feedback")).to_have_attribute("data-seq", str(before + 1))


def line_qty(page: Page, line_id: str) -> str:
    return page.locator(f'#doc-lines [data-line="{line_id}"] .line-qty').inner_text()


def problems(page: Page) -> list[tuple[str, str]]:
    rows = page.locator("#check-list li")
    return sorted(
        (
            rows.nth(i).get_attribute("data-problem") or "",
            rows.nth(i).get_attribute("data-line") or "",
        )
        for i in range(rows.count())
    )


def test_enroll_with_a_code_shows_the_pin(page: Page, shop: Shop) -> None:
    open_app(page)
    expect(page.locator("#screen-enroll h1")).to_have_text("Регистрация ТСД")
    page.fill("#enroll-code", shop.enrollment_code())
    page.fill("#enroll-name", "Склад-1")
    shot(page, "enroll")
    page.keyboard.press("Enter")
    expect(page.locator("#pin-big")).to_be_visible()
    shot(page, "pin")
    (device,) = shop.accounting.devices()
    expect(page.locator("#pin-big")).to_have_text(device["pin"])
    assert device["name"] == "Склад-1"
    # The PIN stays in the bar after the first screen, and survives a reload.
    page.click("#pin-continue")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#bar-pin-value")).to_have_text(device["pin"])
    expect(page.locator("#screen-inbox")).to_be_visible()


def test_a_wrong_code_is_explained_and_enrolls_nothing(page: Page, shop: Shop) -> None:
    open_app(page)
    page.fill("#enroll-code", "not-a-code")
    page.fill("#enroll-name", "Склад-1")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("Код регистрации неверен")
    assert shop.accounting.devices() == []


def test_full_cycle_with_hardware_scans(page: Page, shop: Shop) -> None:
    pin = enroll(page, shop)
    document_id = push(shop, pin, "purchase-receipt", "0000-000123", RECEIPT_LINES)
    # The inbox polls by itself: the pushed document appears without a tap.
    expect(page.locator("#inbox-list button", has_text="0000-000123")).to_be_visible(timeout=12_000)
    shot(page, "inbox")
    take(page, "0000-000123")
    for _ in range(3):
        scan(page, MILK)
    expect(page.locator("#feedback")).to_have_class(re.compile("feedback-ok"))
    # A typed quantity multiplies the next scan; a mistaken scan is undone.
    page.fill("#scan-qty", "3")
    page.focus("#scan")
    scan(page, BREAD)
    scan(page, BREAD)
    assert line_qty(page, "2") == "4 / 4 шт"
    scan(page, BREAD)
    assert line_qty(page, "2") == "5 / 4 шт"
    page.click("#doc-undo")
    assert line_qty(page, "2") == "4 / 4 шт"
    expect(page.locator("#scan")).to_be_focused()
    assert line_qty(page, "1") == "3 / 3 шт"
    expect(page.locator("#doc-progress")).to_have_text("Посчитано 7 из 7")
    shot(page, "document")
    page.click("#doc-check")
    expect(page.locator("#check-summary")).to_have_text("Все строки проходят контроль.")
    page.fill("#check-comment", "2 коробки помяты")
    page.click("#check-complete")
    expect(page.locator("#notice")).to_contain_text("завершён и отправлен")
    (result,) = shop.results_for(document_id)
    assert result["header"] == {"comment": "2 коробки помяты"}
    actual = {line["line_id"]: line["actual_qty"] for line in result["lines"]}
    assert actual == {"1": 3, "2": 4}
    # Scans of the same thing are sent as one actual line per declared line.
    assert [a["qty"] for a in result["lines"][1]["actual"]] == [4]
    assert result["undeclared"] == []
    assert result["completed_by"]["pin"] == pin


def test_the_app_is_usable_at_360_pixels(context: BrowserContext, page: Page, shop: Shop) -> None:
    page.set_viewport_size({"width": 360, "height": 640})
    pin = enroll(page, shop)
    push(shop, pin, "purchase-receipt", "0000-000360", RECEIPT_LINES)
    take(page, "0000-000360")
    scan(page, MILK)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 360
    for selector in ("#scan", "#doc-check", "#doc-undo", "#doc-release"):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["height"] >= 44, selector
    # The language switch in the bar: English, kept after a reload.
    page.click("#bar-lang")
    expect(page.locator("#doc-progress")).to_have_text("Counted 1 of 7")
    # A tap elsewhere takes the focus away; the scanner's keys still reach the scan field.
    page.click("#doc-progress")
    expect(page.locator("#scan")).not_to_be_focused()
    scan(page, MILK)
    expect(page.locator("#doc-progress")).to_have_text("Counted 2 of 7")
    page.screenshot(path=str(SCREENSHOTS / "terminal-360-document.png"))
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#inbox-refresh")).to_have_text("Update now")


def test_a_barcode_not_on_the_document_resolves_from_the_catalog(
    context: BrowserContext, page: Page, shop: Shop
) -> None:
    shop.load_products(
        [
            {"id": "p-001", "name": "Молоко 1 л", "unit": "шт",
             "barcodes": [{"barcode": MILK}, {"barcode": MILK_BOX, "unit": "кор", "factor": 12}]},
            {"id": "p-009", "name": "Кефир 1 л", "unit": "шт", "barcodes": [{"barcode": KEFIR}]},
        ]
    )  # fmt: skip
    pin = enroll(page, shop)
    lines = [{**RECEIPT_LINES[0], "declared_qty": 24}]
    document_id = push(shop, pin, "transfer-receipt", "0000-000200", lines)
    take(page, "0000-000200")
    # The catalog is kept on the terminal: it resolves scans with no network.
    page.click("#doc-back")
    expect(page.locator("#inbox-catalog")).to_contain_text("Справочник товаров на ТСД")
    page.locator("#inbox-list button", has_text="0000-000200").click()
    expect(page.locator("#scan")).to_be_focused()
    context.set_offline(True)
    # A box of 12 found in the catalog counts 12 on the declared line.
    scan(page, MILK_BOX)
    assert line_qty(page, "1") == "12 / 24 шт"
    scan(page, KEFIR)
    expect(page.locator("#feedback")).to_contain_text("Кефир 1 л")
    expect(page.locator("#doc-lines .line-extra")).to_contain_text("Кефир 1 л")
    scan(page, "2000000000000")
    expect(page.locator("#feedback")).to_have_class(re.compile("feedback-error"))
    expect(page.locator("#feedback")).to_contain_text("Неизвестный штрихкод 2000000000000")
    shot(page, "catalog")
    context.set_offline(False)
    page.click("#doc-check")
    page.click("#check-complete")
    expect(page.locator("#notice")).to_contain_text("завершён и отправлен")
    (result,) = shop.results_for(document_id)
    assert result["lines"][0]["actual_qty"] == 12
    assert result["undeclared"] == [
        {"product_id": "p-009", "barcode": KEFIR, "name": "Кефир 1 л", "unit": "шт", "qty": 1}
    ]


def test_the_preview_agrees_with_the_servers_refusal(page: Page, shop: Shop) -> None:
    pin = enroll(page, shop)
    lines = [
        *RECEIPT_LINES,
        {"line_id": "3", "product_id": "p-003", "name": "Соль", "barcode": SALT,
         "unit": "шт", "declared_qty": 1},
    ]  # fmt: skip
    document_id = push(shop, pin, "order-picking", "0000-000300", lines)
    take(page, "0000-000300")
    for code in (SALT, BREAD, MILK, MILK, MILK, MILK):
        scan(page, code)
    page.click("#doc-check")
    expect(page.locator("#check-mode")).to_have_text("Контроль: точно как заявлено.")
    preview = problems(page)
    assert preview == [("excess", "1"), ("shortage", "2")]
    shot(page, "check")
    page.click("#check-complete")
    expect(page.locator("#check-summary")).to_contain_text("Сервер не принял документ")
    assert problems(page) == preview
    expect(page.locator("#notice")).to_contain_text("Количество не прошло контроль")
    assert shop.results_for(document_id) == []
    # Fixed, the same document completes: a new submission, since the body changed.
    page.click("#check-back")
    page.click("#doc-undo")
    for _ in range(3):
        scan(page, BREAD)
    page.click("#doc-check")
    assert problems(page) == []
    page.click("#check-complete")
    expect(page.locator("#notice")).to_contain_text("завершён и отправлен")
    (result,) = shop.results_for(document_id)
    assert [line["actual_qty"] for line in result["lines"]] == [3, 4, 1]


def test_offline_completion_is_uploaded_once_when_back_online(
    context: BrowserContext, page: Page, shop: Shop
) -> None:
    pin = enroll(page, shop)
    document_id = push(shop, pin, "purchase-receipt", "0000-000400", RECEIPT_LINES)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    take(page, "0000-000400")
    context.set_offline(True)
    expect(page.locator("#bar-net")).to_be_visible()
    for code in (MILK, MILK, BREAD):
        scan(page, code)
    page.click("#doc-check")
    page.click("#check-complete")
    expect(page.locator("#bar-outbox")).to_have_attribute("data-count", "1")
    expect(page.locator("#inbox-list button", has_text="0000-000400")).to_contain_text(
        "ждёт отправки"
    )
    # A reload with no network: the shell comes from the service worker, the queue from
    # IndexedDB.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#bar-outbox")).to_have_attribute("data-count", "1")
    expect(page.locator("#inbox-waiting")).to_be_visible()
    shot(page, "offline")
    assert shop.results_for(document_id) == []
    context.set_offline(False)
    expect(page.locator("#bar-outbox")).to_be_hidden(timeout=15_000)
    (result,) = shop.results_for(document_id)
    assert {line["line_id"]: line["actual_qty"] for line in result["lines"]} == {"1": 2, "2": 1}
    # Later polls send nothing again.
    page.click("#inbox-refresh")
    time.sleep(1)
    assert len(shop.results_for(document_id)) == 1


def test_a_claim_lost_to_a_reroute_is_explained(page: Page, shop: Shop) -> None:
    pin = enroll(page, shop)
    document_id = push(shop, pin, "purchase-receipt", "0000-000500", RECEIPT_LINES)
    take(page, "0000-000500")
    scan(page, MILK)
    other, enrollment = TerminalClient.enroll(shop.url, shop.enrollment_code(), name="Склад-2")
    with other:
        shop.accounting.reroute(document_id, {"pin": enrollment.pin})
    page.click("#doc-check")
    page.click("#check-complete")
    expect(page.locator("#doc-state")).to_contain_text("Документ забрали с этого ТСД")
    expect(page.locator("#scan-form")).to_be_hidden()
    shot(page, "claim-lost")
    assert shop.results_for(document_id) == []
    page.click("#doc-dismiss")
    expect(page.locator("#inbox-list button", has_text="0000-000500")).to_have_count(0)


def test_an_operator_signs_in_and_sees_what_is_addressed_to_them(page: Page, shop: Shop) -> None:
    shop.admin.create_user("ivanov", "s3cret-pass", name="Иванов И.")
    pin = enroll(page, shop)
    push(shop, pin, "transfer-receipt", "0000-000600", RECEIPT_LINES)
    answer = shop.accounting.push(
        "transfer-receipt",
        [{"external_id": "ext-0000-000601", "number": "0000-000601", "lines": RECEIPT_LINES}],
        target={"users": ["ivanov"]},
    )
    assert answer["documents"][0]["status"] == "created"
    page.click("#inbox-refresh")
    expect(page.locator("#inbox-list button", has_text="0000-000600")).to_be_visible()
    expect(page.locator("#inbox-list button", has_text="0000-000601")).to_have_count(0)
    page.click("#inbox-login")
    page.fill("#login-name", "ivanov")
    page.fill("#login-password", "wrong")
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_have_text("Неверный логин или пароль.")
    page.fill("#login-password", "s3cret-pass")
    page.keyboard.press("Enter")
    expect(page.locator("#bar-user")).to_have_text("Иванов И.")
    expect(page.locator("#inbox-list button", has_text="0000-000601")).to_be_visible()
    page.click("#inbox-logout")
    expect(page.locator("#bar-user")).to_be_hidden()
    expect(page.locator("#inbox-list button", has_text="0000-000601")).to_have_count(0)


def test_a_document_cancelled_by_accounting_is_marked(page: Page, shop: Shop) -> None:
    pin = enroll(page, shop)
    document_id = push(shop, pin, "purchase-receipt", "0000-000700", RECEIPT_LINES)
    take(page, "0000-000700")
    scan(page, MILK)
    shop.accounting.cancel(document_id)
    page.click("#doc-back")
    item = page.locator("#inbox-list button", has_text="0000-000700")
    expect(item).to_contain_text("Отменён учётом", timeout=12_000)
    item.click()
    expect(page.locator("#doc-state")).to_contain_text("Учёт отменил этот документ")
    expect(page.locator("#scan-form")).to_be_hidden()
    page.click("#doc-dismiss")
    expect(page.locator("#inbox-list button", has_text="0000-000700")).to_have_count(0)


def test_the_apps_quantity_rules_are_the_relays(page: Page) -> None:
    """quantities.js against relay/documents/lines.py on random documents and counts."""
    rng = random.Random(14)
    cases = []
    for _ in range(60):
        declared = [
            {"line_id": str(i), "product_id": f"p-{i}", "declared_qty": rng.choice([0, 1, 2.5, 10])}
            for i in range(rng.randint(1, 5))
        ]
        actual: list[dict[str, Any]] = []
        for _ in range(rng.randint(0, 8)):
            qty = rng.choice([1, 2, 0.5, 0.001, 12])
            if rng.random() < 0.2:
                actual.append({"product_id": "p-x", "barcode": "4600000000009", "qty": qty})
            else:
                actual.append({"line_id": rng.choice(declared)["line_id"], "qty": qty})
        cases.append({"mode": rng.choice(["none", "no_excess", "exact"]), "declared": declared,
                      "actual": actual})  # fmt: skip
    open_app(page)
    found_in_browser = page.evaluate(
        """async (cases) => {
          const q = await import("/t/static/js/quantities.js");
          return cases.map(({ mode, declared, actual }) => {
            const { lines, undeclared } = q.bind(declared, actual);
            return q.discrepancies(mode, lines, undeclared)
              .map((d) => [d.problem, d.line_id, String(d.actual_qty)]);
          });
        }""",
        cases,
    )
    for case, in_browser in zip(cases, found_in_browser, strict=True):
        declared = [
            {**line, "declared_qty": Decimal(str(line["declared_qty"]))}
            for line in case["declared"]
        ]
        actual = [{**line, "qty": Decimal(str(line["qty"]))} for line in case["actual"]]
        bound, undeclared = relay_lines.bind(declared, actual)
        expected = [
            [d["problem"], d["line_id"], str(float(d["actual_qty"])).removesuffix(".0")]
            for d in relay_lines.discrepancies(case["mode"], bound, undeclared)
        ]
        assert in_browser == expected, case


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until ``selector`` has the focus (as an operator without a touch screen)."""
    for _ in range(30):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_a_document_is_worked_with_the_keyboard_alone(page: Page, shop: Shop) -> None:
    pin = enroll(page, shop)
    document_id = push(shop, pin, "purchase-receipt", "0000-000800", RECEIPT_LINES[:1])
    page.keyboard.press("Enter")  # "Update now" has the focus
    expect(page.locator("#inbox-list button", has_text="0000-000800")).to_be_visible()
    tab_to(page, "#inbox-list button")
    # The inbox refreshes itself every 5 s: the focus stays where the operator left it.
    page.wait_for_timeout(6_000)
    expect(page.locator("#inbox-list button", has_text="0000-000800")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#doc-claim")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#scan")).to_be_focused()
    for _ in range(3):
        scan(page, MILK)
    tab_to(page, "#doc-check")
    page.keyboard.press("Enter")
    expect(page.locator("#check-complete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("завершён и отправлен")
    (result,) = shop.results_for(document_id)
    assert result["lines"][0]["actual_qty"] == 3


def test_a_revoked_terminal_is_asked_to_enroll_again(page: Page, shop: Shop) -> None:
    pin = enroll(page, shop)
    (device,) = shop.accounting.devices()
    assert device["pin"] == pin
    shop.admin.revoke_device(device["id"])
    page.click("#inbox-refresh")
    expect(page.locator("#screen-enroll")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("Этот ТСД больше не зарегистрирован")
    expect(page.locator("#bar-pin")).to_be_hidden()
    new_pin = enroll(page, shop)
    expect(page.locator("#bar-pin-value")).to_have_text(new_pin)


def test_collective_work_is_joined_and_closed_by_an_operator(page: Page, shop: Shop) -> None:
    shop.admin.create_user("petrova", "s3cret-pass", name="Петрова А.")
    enroll(page, shop)
    answer = shop.accounting.push(
        "stock-count",
        [{"external_id": "ext-inv-1", "number": "ИНВ-1", "lines": RECEIPT_LINES}],
        target={"users": ["petrova"]},
    )
    document_id = answer["documents"][0]["id"]
    page.click("#inbox-login")
    page.fill("#login-name", "petrova")
    page.fill("#login-password", "s3cret-pass")
    page.keyboard.press("Enter")
    page.locator("#inbox-list button", has_text="ИНВ-1").click()
    expect(page.locator("#doc-join")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#scan")).to_be_focused()
    for code in (MILK, MILK, BREAD):
        scan(page, code)
    # A stock count is counted blind: no declared quantities on the screen.
    assert line_qty(page, "1") == "2 шт"
    expect(page.locator("#doc-progress")).to_have_text("Посчитано 3")
    page.click("#doc-check")
    expect(page.locator("#check-complete")).to_have_text("Отправить мою часть")
    page.click("#check-close")
    expect(page.locator("#notice")).to_contain_text("завершён и отправлен")
    (result,) = shop.results_for(document_id)
    assert {line["line_id"]: line["actual_qty"] for line in result["lines"]} == {"1": 2, "2": 1}
    assert result["completed_by"]["login"] == "petrova"
