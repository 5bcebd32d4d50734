"""JSON as the relay speaks it: quantities are exact decimals, Cyrillic is sent as-is."""

from typing import Any

import simplejson


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """Serialize, writing ``Decimal`` as a JSON number and non-ASCII text unescaped."""
    return simplejson.dumps(obj, use_decimal=True, ensure_ascii=False, indent=indent)


def loads(raw: str | bytes) -> Any:
    """Parse, reading every non-integer number as ``Decimal`` (0.001 kg stays 0.001)."""
    return simplejson.loads(raw, use_decimal=True)
