"""Fixtures for the client's unit tests: a scripted local HTTP server, and a fake clock."""

from collections.abc import Iterator

import pytest

from tests.unit.client.fake_relay import FakeRelay


@pytest.fixture
def fake() -> Iterator[FakeRelay]:
    with FakeRelay() as server:
        yield server


class Sleeps(list[float]):
    """Records the waits of the retry loop instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
