"""JSON that keeps decimals exact and Cyrillic readable, for HTTP bodies and JSON columns."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import simplejson
from flask.json.provider import JSONProvider

from relay.timeutil import iso


def dumps(obj: Any, **kwargs: Any) -> str:
    """Serialize with Decimal as a JSON number and non-ASCII text as-is."""
    kwargs.setdefault("use_decimal", True)
    kwargs.setdefault("ensure_ascii", False)
    kwargs.setdefault("default", _default)
    return simplejson.dumps(obj, **kwargs)


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse with every non-integer number as Decimal, so 0.001 kg stays 0.001."""
    kwargs.setdefault("use_decimal", True)
    return simplejson.loads(s, **kwargs)


def canonical(obj: Any) -> str:
    """Serialize deterministically (sorted keys, no spaces): for hashing request bodies."""
    return dumps(obj, sort_keys=True, separators=(",", ":"))


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return iso(obj)
    isoformat = getattr(obj, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    return str(obj)


class RelayJSONProvider(JSONProvider):
    """Flask's JSON provider, backed by the functions above."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


__all__ = ["Decimal", "RelayJSONProvider", "canonical", "dumps", "loads"]
