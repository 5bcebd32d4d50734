"""One delivery attempt: the retry schedule, Retry-After, the lease, the settings."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.online import send
from relay.online.sealing import Keys
from tests.factories import send_settings

NOW = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
SETTINGS = send_settings()


@pytest.mark.parametrize(("attempts", "step"), [(1, 5.0), (2, 30.0), (3, 120.0)])
def test_retry_delay_follows_the_schedule_with_jitter(attempts: int, step: float) -> None:
    delays = [send.retry_delay(attempts, SETTINGS.retry_schedule) for _ in range(200)]
    assert all(d is not None and step * 0.8 <= d <= step * 1.2 for d in delays)
    assert len(set(delays)) > 1


def test_after_the_last_scheduled_retry_there_is_none() -> None:
    assert send.retry_delay(4, SETTINGS.retry_schedule) is None
    assert send.retry_delay(0, SETTINGS.retry_schedule) is None


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    assert send.retry_delay(1, SETTINGS.retry_schedule, retry_after=600) == 600
    delay = send.retry_delay(3, SETTINGS.retry_schedule, retry_after=1)
    assert delay is not None
    assert delay >= 96


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Fri, 20 Nov 2026 10:16:00 GMT", 60.0),
        ("Fri, 20 Nov 2026 10:00:00 GMT", 0.0),
        ("Sat, 20 Nov 2027 10:15:00 GMT", float(send.RETRY_AFTER_MAX_SECONDS)),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert send.parse_retry_after(value, NOW) == seconds


def test_the_lease_covers_both_timeouts_and_the_margin() -> None:
    assert SETTINGS.lease == timedelta(seconds=6)


def test_settings_read_the_configuration() -> None:
    config: dict[str, Any] = {
        "WEBHOOK_CONNECT_TIMEOUT": 5,
        "WEBHOOK_READ_TIMEOUT": 15,
        "WEBHOOK_RETRY_SCHEDULE": [5, 30],
        "WEBHOOK_ROTATION_GRACE_SECONDS": 3600,
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_LEASE_MARGIN_SECONDS": 30,
        "SECRET_KEY": "new-key",
        "SECRET_KEY_FALLBACKS": ["old-key"],
    }
    settings = send.Settings.from_config(config)
    assert settings.keys == Keys("new-key", ("old-key",))
    assert settings.retry_schedule == (5.0, 30.0)
    assert settings.allow_private is True
    assert settings.rotation_grace == timedelta(hours=1)
