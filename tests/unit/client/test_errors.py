"""The client's exceptions: one class per status, the relay's code, message and details kept."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from relay.client import errors
from relay.client.errors import ApiError, error_for, error_from_body, parse_retry_after


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequest),
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (413, errors.PayloadTooLarge),
        (422, errors.ValidationFailed),
        (429, errors.RateLimited),
        (500, errors.ServerError),
        (503, errors.ServerError),
        (418, ApiError),
    ],
)
def test_the_class_follows_the_status(status: int, cls: type[ApiError]) -> None:
    body = {"error": {"code": "some_code", "message": "A sentence.", "details": {"a": 1}}}
    error = error_for(status, body)
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.details) == (
        status,
        "some_code",
        "A sentence.",
        {"a": 1},
    )
    assert str(error) == f"{status} some_code: A sentence."
    assert error.to_dict() == body


def test_a_body_not_in_the_relays_shape_still_says_what_happened() -> None:
    error = error_for(502, None, text="<html>\n  <h1>502 Bad Gateway</h1></html>")
    assert isinstance(error, errors.ServerError)
    assert error.code == "http_502"
    assert "502 Bad Gateway" in error.message
    assert error_for(404, {"detail": "x"}).code == "http_404"
    assert error_for(404, None).message == "HTTP 404 without the relay's error body."


def test_batch_items_become_exceptions_too() -> None:
    error = error_from_body(409, {"error": {"code": "claim_lost", "message": "Lost."}})
    assert isinstance(error, errors.Conflict)
    assert error.details == {}


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 30
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0
