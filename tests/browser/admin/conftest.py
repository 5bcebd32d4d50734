"""A real `relay serve` (gunicorn) and Debian's Chromium driven by Playwright.

The server shares the suite's database (the SQLite file or PostgreSQL of the session's ``app``),
so a test sets its data up through the test client and checks it in the browser. Playwright's
own browser download is not used: Chromium is launched by its path (`make install-browser`).
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright

from relay.db import transaction
from relay.directory import console
from tests.helpers import TenantKeys
from tests.serving import LiveServer, live_server, relay_env

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
PASSWORD = "console-secret-1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.timeout(180))


@pytest.fixture(scope="session")
def console_server(
    app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("browser")
    env = relay_env(
        database_url,
        root,
        RELAY_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        RELAY_WEBHOOK_ALLOW_PRIVATE="true",
    )
    with live_server(env, root / "gunicorn.log", workers=2) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make install-browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


def _page(browser: Browser, locale: str) -> Iterator[Page]:
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    # Script errors and Content-Security-Policy refusals (a 422 form answer is not one).
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Refused" in m.text else None,
    )
    yield page
    context.close()
    # A Content-Security-Policy violation or a script error shows up here.
    assert not errors, errors


@pytest.fixture
def page_ru(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, "ru-RU")


@pytest.fixture
def account(app: Flask, tenant: TenantKeys) -> str:
    """A console account of the tenant, created the way an operator would: `relay admin create`."""
    env = relay_env(app.config["SQLALCHEMY_DATABASE_URI"], Path(app.instance_path))
    done = subprocess.run(
        ["relay", "admin", "create", "--tenant", tenant.name, "--password-stdin", "boss"],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with app.app_context(), transaction():
        assert console.count_accounts(tenant.id) == 1
    return "boss"


def sign_in(page: Page, server: LiveServer, tenant: TenantKeys, login: str) -> None:
    page.goto(f"{server.url}/admin/")
    page.fill("input[name=tenant]", tenant.name)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit] >> nth=0")
    page.wait_for_url(f"{server.url}/admin/")


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)
