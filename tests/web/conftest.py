"""Console fixtures: a signed-in test client per tenant."""

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from relay.db import transaction
from relay.directory import console
from tests.helpers import TenantKeys

PASSWORD = "console-secret-1"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


class Console:
    """A browser-like test client signed in to one tenant's console."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def refresh_token(self, path: str = "/admin/") -> str:
        response = self.client.get(path)
        self.token = csrf_of(response.text)
        return self.token

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)


def make_account(app: Flask, tenant: TenantKeys, login: str = "boss") -> None:
    with app.app_context(), transaction():
        console.create_account(
            tenant.id,
            login=login,
            name="Boss",
            password=PASSWORD,
            hash_method=app.config["PASSWORD_HASH_METHOD"],
        )


def signed_in(app: Flask, tenant: TenantKeys, login: str = "boss") -> Console:
    make_account(app, tenant, login)
    browser = Console(app.test_client())
    browser.refresh_token("/admin/sign-in")
    response = browser.post(
        "/admin/sign-in", {"tenant": tenant.name, "login": login, "password": PASSWORD}
    )
    assert response.status_code == 302, response.text
    browser.refresh_token()
    return browser


@pytest.fixture
def admin_console(app: Flask, tenant: TenantKeys) -> Console:
    return signed_in(app, tenant)


@pytest.fixture
def console_for(app: Flask) -> Callable[[TenantKeys, str], Console]:
    return lambda tenant, login: signed_in(app, tenant, login)
