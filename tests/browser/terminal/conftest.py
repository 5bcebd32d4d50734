"""The terminal web app in a real browser: Debian's Chromium driven by Playwright against a real
relay (gunicorn, 2 workers) on 127.0.0.1, on SQLite or on the suite's PostgreSQL database.

Playwright's own browser download is not used: the tests launch /usr/bin/chromium (Debian's
package). Without it they are skipped, or fail under CI=1.
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from relay.client import AccountingClient, AdminClient
from relay.client.tools.localserver import LocalRelay
from tests.conftest import ON_POSTGRES, PG_URL

CHROMIUM = Path(os.environ.get("RELAY_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
PHONE = {"width": 480, "height": 800}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.timeout(180))


@pytest.fixture(scope="session")
def browser_relay(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRelay]:
    """The relay the browser talks to, started once for the session and always stopped."""
    root = tmp_path_factory.mktemp("browser")
    url = PG_URL if ON_POSTGRES else f"sqlite:///{root / 'relay.sqlite3'}"
    relay = LocalRelay(
        url,
        log_path=root / "relay.log",
        workers=2,
        env={"RELAY_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "RELAY_ACCESS_LOG": "-"},
    )
    relay.migrate()
    with relay:
        yield relay
    assert not relay.running


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make install-browser)")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make install-browser)")
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Shop:
    """One tenant of the running relay, seen from its admin and its accounting side."""

    relay: LocalRelay
    admin: AdminClient
    accounting: AccountingClient
    accounting_key: str

    @property
    def url(self) -> str:
        return self.relay.url

    def enrollment_code(self) -> str:
        return str(self.admin.create_enrollment_code()["code"])

    def load_products(self, items: list[dict[str, Any]]) -> None:
        """Load products into the catalog the way the accounting side does (SPEC Appendix B)."""
        answer = requests.put(
            f"{self.url}/api/v1/catalogs/products/items",
            json={"items": items},
            headers={"Authorization": f"Bearer {self.accounting_key}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text

    def results_for(self, document_id: str) -> list[dict[str, Any]]:
        return [r for r in self.accounting.results() if r["document_id"] == document_id]


@pytest.fixture
def shop(browser_relay: LocalRelay) -> Iterator[Shop]:
    keys = browser_relay.create_tenant(f"browser-{uuid.uuid4().hex[:8]}")
    with (
        AdminClient(browser_relay.url, keys["admin_key"]) as admin,
        AccountingClient(browser_relay.url, keys["accounting_key"]) as accounting,
    ):
        yield Shop(browser_relay, admin, accounting, keys["accounting_key"])


@pytest.fixture
def context(chromium: Browser, browser_relay: LocalRelay) -> Iterator[BrowserContext]:
    """A fresh phone-sized browser profile (its own IndexedDB and service worker), in Russian."""
    made = chromium.new_context(
        viewport=PHONE,
        base_url=browser_relay.url,
        locale="ru-RU",
        service_workers="allow",
    )
    made.set_default_timeout(15_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page of the context; an uncaught script error in it fails the test."""
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda err: errors.append(str(err)))
    yield opened
    assert errors == []
