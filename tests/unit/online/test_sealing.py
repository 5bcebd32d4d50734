"""Webhook secrets sealed at rest (relay.online.sealing) and URLs shown without credentials."""

import pytest

from relay.online import webhook
from relay.online.sealing import Keys, SealError, derive

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_sealed_secret_is_not_the_secret_and_opens_again() -> None:
    keys = Keys.of("the-server-key")
    sealed = keys.seal(SECRET)
    assert SECRET not in sealed
    assert not sealed.startswith("whsec_")
    assert len(sealed) <= 200  # fits the column
    assert keys.open(sealed) == SECRET
    assert keys.seal(SECRET) != sealed  # a fresh IV each time


def test_the_key_is_derived_not_the_server_key_itself() -> None:
    assert derive("the-server-key") != derive("another-key")
    assert b"the-server-key" not in derive("the-server-key")


def test_another_key_cannot_open_it() -> None:
    sealed = Keys.of("the-server-key").seal(SECRET)
    with pytest.raises(SealError, match="RELAY_SECRET_KEY_FALLBACKS"):
        Keys.of("a-new-key").open(sealed)


def test_rotation_old_key_as_fallback_opens_and_reseal_moves_to_the_new_key() -> None:
    sealed = Keys.of("old-key").seal(SECRET)
    rotated = Keys.of("new-key", ["old-key"])
    assert rotated.open(sealed) == SECRET
    resealed = rotated.reseal(sealed)
    assert Keys.of("new-key").open(resealed) == SECRET
    # A single fallback may be given as a string (RELAY_SECRET_KEY_FALLBACKS=old-key).
    assert Keys.of("new-key", "old-key").open(sealed) == SECRET


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://1c:s3cret@erp.example/hs/relay", "https://***@erp.example/hs/relay"),
        ("https://token@erp.example:8443/x?a=1", "https://***@erp.example:8443/x?a=1"),
        ("https://erp.example/hs/relay", "https://erp.example/hs/relay"),
    ],
)
def test_credentials_in_a_url_are_never_shown(url: str, shown: str) -> None:
    assert webhook.shown_url(url) == shown


def test_a_url_sent_back_as_shown_keeps_its_credentials() -> None:
    stored = "https://1c:s3cret@erp.example/hs/relay"
    assert (
        webhook.kept_credentials("https://***@erp.example/hs/relay/v2", stored)
        == "https://1c:s3cret@erp.example/hs/relay/v2"
    )
    assert (
        webhook.kept_credentials("https://a:b@erp.example/", stored) == "https://a:b@erp.example/"
    )
    assert webhook.kept_credentials("https://erp.example/", stored) == "https://erp.example/"
