"""Fixtures for the unit tests that build their own app."""

import os

import pytest


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RELAY_* variable of the machine running the suite may leak into these apps."""
    for name in list(os.environ):
        if name.startswith("RELAY_"):
            monkeypatch.delenv(name)
