"""The application factory: defaults, RELAY_* variables, overrides, load_config."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from relay.app import load_config
from relay.extensions import db
from tests.helpers import built

pytestmark = pytest.mark.usefixtures("clean_environment")


# -- configuration ---------------------------------------------------------------------------


def test_shipped_defaults(tmp_path: Path) -> None:
    with built(tmp_path) as app:
        config = app.config
        assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/relay.sqlite3"
        assert config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
        assert config["PUSH_MAX_DOCUMENTS"] == 500
        assert config["DOCUMENT_MAX_LINES"] == 10_000
        assert config["WEBHOOK_ALLOW_PRIVATE"] is False
        assert config["SESSION_TTL_SECONDS"] == 14 * 3600
        assert config["ENROLLMENT_CODE_USES"] == 1
        assert config["ENROLLMENT_CODE_TTL_SECONDS"] == 24 * 3600
        assert config["RATELIMIT_ENROLL"] == "10 per 10 minutes"
        assert config["SECRET_KEY"]
        assert config["BIND"] == "127.0.0.1:8000"


def test_an_environment_variable_overrides_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("RELAY_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("RELAY_SECRET_KEY", "s3cr3t-from-env")
    monkeypatch.setenv("RELAY_WEBHOOK_RETRY_SCHEDULE", "[1, 2]")
    with built(tmp_path) as app:
        assert app.config["MAX_CONTENT_LENGTH"] == 2048
        assert app.config["WEBHOOK_ALLOW_PRIVATE"] is True
        assert app.config["SECRET_KEY"] == "s3cr3t-from-env"
        assert app.config["WEBHOOK_RETRY_SCHEDULE"] == [1, 2]


def test_relay_database_url_picks_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "elsewhere.sqlite3"
    monkeypatch.setenv("RELAY_DATABASE_URL", f"sqlite:///{path}")
    with built(tmp_path / "instance") as app, app.app_context():
        assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{path}"
        db.session.execute(text("CREATE TABLE probe (x INTEGER)"))
        db.session.commit()
    assert path.exists()
    assert not (tmp_path / "instance" / "relay.sqlite3").exists()


def test_the_overrides_argument_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("RELAY_PUSH_MAX_DOCUMENTS", "7")
    with built(tmp_path, MAX_CONTENT_LENGTH=4096) as app:
        assert app.config["MAX_CONTENT_LENGTH"] == 4096
        assert app.config["PUSH_MAX_DOCUMENTS"] == 7


def test_load_config_follows_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn's config file reads the settings without building an app."""
    assert load_config()["WORKERS"] == 0
    monkeypatch.setenv("RELAY_WORKERS", "3")
    monkeypatch.setenv("RELAY_BIND", "0.0.0.0:9000")
    config: Mapping[str, Any] = load_config({"WORKERS": 5})
    assert (config["WORKERS"], config["BIND"]) == (5, "0.0.0.0:9000")
