"""`relay serve`: which server runs, and where it listens."""

import sys

import pytest

from relay.serve import choose_server, gunicorn_options, split_bind


def test_auto_is_gunicorn_where_it_imports() -> None:
    assert choose_server("auto") == "gunicorn"


def test_auto_is_waitress_where_gunicorn_cannot_import(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on Windows, where gunicorn's import of fcntl fails.
    monkeypatch.setitem(sys.modules, "gunicorn.app.base", None)
    assert choose_server("auto") == "waitress"
    assert choose_server("gunicorn") == "gunicorn"


def test_an_explicit_choice_is_kept() -> None:
    assert choose_server("waitress") == "waitress"


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),  # noqa: S104
        (":8000", ("0.0.0.0", 8000)),  # noqa: S104
        ("[::1]:8000", ("::1", 8000)),
    ],
)
def test_split_bind(bind: str, expected: tuple[str, int]) -> None:
    assert split_bind(bind) == expected


def test_gunicorn_gets_the_json_logger_and_the_metrics_hook() -> None:
    options = gunicorn_options({"BIND": "0.0.0.0:8000", "WORKERS": 3})
    assert options["bind"] == "0.0.0.0:8000"
    assert options["workers"] == 3
    assert options["logger_class"] == "relay.gunicorn_app.JsonGunicornLogger"
    assert callable(options["child_exit"])
