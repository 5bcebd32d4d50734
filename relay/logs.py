"""Logs: one JSON object per line (python-json-logger), each carrying the current request id.

The request id is set per HTTP request (``X-Request-ID`` when sane, else a new one) and per
worker pass; a line written outside both carries ``"request_id": null``. Nothing here logs
headers or bodies, so tokens, keys, PINs and passwords never reach a log line.
"""

import logging
import os
import re
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Letters, digits and a few separators, at most 128: enough for UUIDs and tracing ids, and
# nothing that could forge a log line or a header.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:+=/-]{1,128}$")
JSON_FIELDS = "%(levelname)s %(name)s %(process)d %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_HANDLER_NAME = "relay"


def new_request_id() -> str:
    """Make a request id: 32 hex digits."""
    return os.urandom(16).hex()


def accept_request_id(header: str | None) -> str:
    """The client's ``X-Request-ID`` when it is sane, else a new id."""
    if header and _SANE_REQUEST_ID.match(header):
        return header
    return new_request_id()


def set_request_id(value: str | None) -> None:
    """Make ``value`` the request id of the lines this thread writes from now on."""
    _request_id.set(value)


def request_id() -> str | None:
    """The current request id, if any."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record (unless the record brings its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


def formatter(fmt: str = "json") -> logging.Formatter:
    """The relay's formatter: JSON (the default), or plain text for a developer's terminal."""
    if fmt == "text":
        return logging.Formatter(TEXT_FORMAT)
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


def configure(level: str = "INFO", fmt: str = "json") -> None:
    """Send the root logger's lines to stderr in the relay's format (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
