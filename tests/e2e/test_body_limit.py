"""413 from a real gunicorn for a body over the limit, whether it declares its length or not."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.test_gunicorn import create_tenant
from tests.serving import live_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def chunks(body: bytes, size: int = 100) -> Iterator[bytes]:
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_body_over_the_limit_is_413(server_env: dict[str, str], tmp_path: Path) -> None:
    env = {**server_env, "RELAY_MAX_CONTENT_LENGTH": "1000"}
    keys = create_tenant(env, "body-limit")
    over = b'{"login": "ivanov", "name": "' + b"x" * 2000 + b'", "password": "abcd"}'
    with live_server(env, tmp_path / "gunicorn.log", workers=1) as server:
        url = f"{server.url}/api/v1/admin/users"
        auth = {"Authorization": f"Bearer {keys['admin_key']}"}
        with requests.post(url, data=chunks(over), headers=auth, timeout=10) as response:
            assert response.request.headers.get("Transfer-Encoding") == "chunked"
            assert response.status_code == 413, response.text
            assert response.json()["error"]["code"] == "body_too_large"
        with requests.post(url, data=over, headers=auth, timeout=10) as response:
            assert response.status_code == 413, response.text
        small = b'{"login": "ivanov", "password": "abcd"}'
        with requests.post(url, data=chunks(small, 7), headers=auth, timeout=10) as response:
            assert response.status_code == 201, response.text
        with requests.get(url, headers=auth, timeout=10) as response:
            assert [u["login"] for u in response.json()["users"]] == ["ivanov"]
