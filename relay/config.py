"""Check the RELAY_* environment at start: a bad value is named in one sentence, not a traceback.

``Config.from_prefixed_env`` parses each value as JSON when it can, so ``RELAY_WORKERS=two``
arrives as the string ``"two"`` where a number belongs. Each variable is checked against the
type of its shipped default in relay/settings.py.
"""

import os
import re
from collections.abc import Mapping
from typing import Any

from relay import settings

PREFIX = "RELAY_"
_BIND = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$")
_DATABASE_SCHEMES = ("sqlite", "postgresql")


class ConfigError(Exception):
    """A RELAY_* variable with a value the relay cannot use; the message is one sentence."""


def defaults() -> dict[str, Any]:
    """The shipped settings, by name."""
    return {name: getattr(settings, name) for name in dir(settings) if name.isupper()}


def check(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return corrected values for the RELAY_* variables set; raise ConfigError on a bad one.

    A text setting given a value that parses as JSON (``RELAY_SECRET_KEY=123``) gets back the
    text as written.
    """
    environ = os.environ if environ is None else environ
    fixed: dict[str, Any] = {}
    for name, default in defaults().items():
        raw = environ.get(PREFIX + name)
        if raw is None:
            continue
        value = config.get(name)
        fixed[name] = _check_one(PREFIX + name, default, value, raw)
    return fixed


def _check_one(variable: str, default: Any, value: Any, raw: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{variable} must be true or false, got {raw!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{variable} must be a whole number, got {raw!r}")
        if value < 0:
            raise ConfigError(f"{variable} must be 0 or more, got {raw!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{variable} must be a number, got {raw!r}")
        if value < 0:
            raise ConfigError(f"{variable} must be 0 or more, got {raw!r}")
        return float(value)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            raise ConfigError(
                f"{variable} must be a JSON list of seconds such as [5, 30, 120], got {raw!r}"
            )
        return value
    return _check_text(variable, raw)


def _check_text(variable: str, raw: str) -> str:
    if variable == "RELAY_SERVER" and raw not in ("auto", "gunicorn", "waitress"):
        raise ConfigError(f"{variable} must be auto, gunicorn or waitress, got {raw!r}")
    if variable in ("RELAY_BIND", "RELAY_WORKER_METRICS_BIND") and raw and not _BIND.match(raw):
        raise ConfigError(f"{variable} must be host:port such as 0.0.0.0:8000, got {raw!r}")
    if variable == "RELAY_DATABASE_URL" and raw and not raw.startswith(_DATABASE_SCHEMES):
        raise ConfigError(
            f"{variable} must start with sqlite or postgresql"
            f" (e.g. postgresql+psycopg://user:pass@host/db), got {raw.split(':', 1)[0]!r}"
        )
    if variable == "RELAY_PUBLIC_URL" and raw and not re.match(r"^https?://[^/\s]+", raw):
        raise ConfigError(
            f"{variable} must be an http:// or https:// address such as "
            f"http://192.168.1.10:8000, got {raw!r}"
        )
    if variable == "RELAY_LOG_FORMAT" and raw not in ("json", "text"):
        raise ConfigError(f"{variable} must be json or text, got {raw!r}")
    if variable == "RELAY_LOG_LEVEL" and raw.upper() not in (
        "DEBUG",
        "INFO",
        "WARNING",
        "ERROR",
    ):
        raise ConfigError(f"{variable} must be DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return raw
