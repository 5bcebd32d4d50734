"""Operator logins (relay.directory.users): the stand-in hash costs what a real one costs."""

import statistics
import time

from werkzeug.security import check_password_hash, generate_password_hash

from relay import settings
from relay.directory import users


def _median_check_seconds(hashed: str, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        check_password_hash(hashed, "a-wrong-password")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_an_unknown_login_costs_what_a_known_one_costs() -> None:
    """The shipped method (scrypt): a wrong password for a real and for a missing login."""
    method = settings.PASSWORD_HASH_METHOD
    real = generate_password_hash("the-operator's-password", method=method)
    stand_in = users.stand_in_hash(method)
    assert stand_in.split("$", 1)[0] == real.split("$", 1)[0]  # same method and parameters
    known, unknown = _median_check_seconds(real), _median_check_seconds(stand_in)
    assert 0.5 <= unknown / known <= 2, (known, unknown)
    assert known > 0.005  # scrypt really is slow: the test measures something


def test_the_stand_in_follows_the_configured_method() -> None:
    assert users.stand_in_hash("pbkdf2:sha256:1000").startswith("pbkdf2:sha256:1000$")
    assert users.stand_in_hash("scrypt") == users.stand_in_hash("scrypt")
