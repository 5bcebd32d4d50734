"""Identifiers and secrets (relay/ids.py)."""

import base64
import hashlib
import time
import uuid
from types import SimpleNamespace

import pytest

from relay import ids


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Overrides the conftest's per-test database reset: these rules never touch a database."""


def test_new_id_is_a_version_7_uuid() -> None:
    for _ in range(200):
        value = ids.new_id()
        assert isinstance(value, uuid.UUID)
        assert value.version == 7
        assert value.variant == uuid.RFC_4122


def test_new_id_carries_the_unix_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = ids.new_id()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_new_id_grows_across_milliseconds() -> None:
    previous = ids.new_id()
    for _ in range(20):
        time.sleep(0.002)
        current = ids.new_id()
        assert current > previous
        assert str(current) > str(previous)  # text order too: what a cursor compares
        previous = current


def test_new_id_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic: ids made at increasing milliseconds sort in that order."""
    clock = iter(range(1_700_000_000_000, 1_700_000_000_050))
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: next(clock) * 1_000_000))
    made = [ids.new_id() for _ in range(50)]
    assert made == sorted(made)
    assert [m.int >> 80 for m in made] == list(range(1_700_000_000_000, 1_700_000_000_050))


def test_new_id_random_bits_differ() -> None:
    made = {ids.new_id() for _ in range(5000)}
    assert len(made) == 5000


def test_new_token_has_its_prefix_and_at_least_128_random_bits() -> None:
    token = ids.new_token("relay_dev")
    assert token.startswith("relay_dev_")
    secret = token.removeprefix("relay_dev_")
    raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    assert len(raw) * 8 >= 128
    assert token.isascii()
    assert " " not in token


def test_new_token_is_new_every_time() -> None:
    tokens = {ids.new_token("relay_acc") for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(t.startswith("relay_acc_") for t in tokens)


def test_hash_token_is_stable_and_distinct() -> None:
    token = ids.new_token("relay_adm")
    assert ids.hash_token(token) == ids.hash_token(token)
    assert ids.hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert len(ids.hash_token(token)) == 64
    assert ids.hash_token(token) != ids.hash_token(token + "x")
    assert token not in ids.hash_token(token)


def test_hash_token_of_known_text() -> None:
    # A stored hash must keep matching the same token across releases.
    assert ids.hash_token("relay_adm_abc") == (
        "7de5a9b8e14f9ce6d5aff093b5548d7ee3837f4af30f22f8f6e4515650abda14"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0190d6a2-7e1f-7c3a-9b2d-1a2b3c4d5e6f", uuid.UUID("0190d6a2-7e1f-7c3a-9b2d-1a2b3c4d5e6f")),
        ("not-a-uuid", None),
        ("", None),
    ],
)
def test_parse_uuid(text: str, expected: uuid.UUID | None) -> None:
    assert ids.parse_uuid(text) == expected
