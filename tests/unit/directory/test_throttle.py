"""Failure counters (relay.directory.throttle): limits, windows, and what is forgotten."""

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from relay.directory import throttle
from relay.extensions import db
from relay.models import FailureCounter
from relay.timeutil import utcnow

LIMIT = throttle.Limit(3, timedelta(minutes=10))
COUNTER = throttle.Counter("enroll", "10.0.0.1")


@pytest.mark.parametrize(
    ("text", "failures", "seconds"),
    [
        ("10 per 10 minutes", 10, 600),
        ("20 per minute", 20, 60),
        ("5/hour", 5, 3600),
        ("3 per 2 days", 3, 172800),
    ],
)
def test_limits_are_read_as_written(text: str, failures: int, seconds: int) -> None:
    assert throttle.Limit.parse(text) == throttle.Limit(failures, timedelta(seconds=seconds))


@pytest.mark.parametrize("text", ["", "ten per minute", "0 per minute", "5 per fortnight"])
def test_a_bad_limit_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="not a limit"):
        throttle.Limit.parse(text)


def test_exactly_the_limit_passes_then_the_count_refuses(app_ctx: Flask) -> None:
    assert [throttle.count(COUNTER, LIMIT) for _ in range(3)] == [0, 0, 0]
    assert throttle.blocked_for(COUNTER, LIMIT) == 0
    refused = throttle.count(COUNTER, LIMIT)
    assert 590 <= refused <= 601
    assert refused - 1 <= throttle.blocked_for(COUNTER, LIMIT) <= refused
    # Another subject, scope or holder counts on its own.
    assert throttle.blocked_for(throttle.Counter("enroll", "10.0.0.2"), LIMIT) == 0
    assert throttle.blocked_for(throttle.Counter("login-address", "10.0.0.1"), LIMIT) == 0


def test_failures_are_forgotten_a_window_after_the_last(app_ctx: Flask) -> None:
    for _ in range(4):
        throttle.count(COUNTER, LIMIT)
    assert throttle.blocked_for(COUNTER, LIMIT) > 0
    db.session.execute(update(FailureCounter).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert throttle.blocked_for(COUNTER, LIMIT) == 0
    # The next failure starts a new count at one.
    assert throttle.count(COUNTER, LIMIT) == 0
    assert db.session.scalars(db.select(FailureCounter.failures)).one() == 1


def test_uncount_and_forget(app_ctx: Flask) -> None:
    for _ in range(4):
        throttle.count(COUNTER, LIMIT)
    throttle.uncount(COUNTER)
    assert throttle.blocked_for(COUNTER, LIMIT) == 0
    throttle.count(COUNTER, LIMIT)
    throttle.forget(COUNTER)
    assert db.session.scalars(db.select(FailureCounter)).all() == []


def test_a_login_locked_on_any_device_reports_its_end(app_ctx: Flask) -> None:
    login = throttle.Counter("login", "ivanov", tenant_id=7, holder="device-a")
    assert throttle.locked_until(7, "ivanov", 3) is None
    for _ in range(3):
        throttle.count(login, LIMIT)
    until = throttle.locked_until(7, "ivanov", 3)
    assert until is not None
    assert until > utcnow() + timedelta(minutes=9)
    assert throttle.locked_until(8, "ivanov", 3) is None
    throttle.forget_login(7, "ivanov")
    assert throttle.locked_until(7, "ivanov", 3) is None
