"""JSON that keeps decimals exact and Cyrillic readable, for HTTP bodies and JSON columns."""

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

import simplejson

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


# Numbers beyond these cannot be quantities and some databases cannot store them in JSON. A
# number in a body is below 10**40 in magnitude with at most 40 digits after the point, however
# it is spelled (an integer of 41 digits and 1e40 alike are out), so the OpenAPI document can
# state the bound as a range and a multipleOf (relay/api/docs.py).
MAX_NUMBER_DIGITS = 40
MAX_EXPONENT = 40


class BodyError(ValueError):
    """A request body that is not JSON the relay can accept."""


def _number(text: str) -> Decimal:
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if (
        len(text) > MAX_NUMBER_DIGITS + 10
        or not isinstance(exponent, int)
        or exponent < -MAX_EXPONENT
        or (value and value.adjusted() >= MAX_EXPONENT)
    ):
        raise BodyError(f"the number {text[:20]}… is out of range")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BodyError(f"the number {text[:20]}… is out of range")
    return int(text)


def _constant(name: str) -> Any:
    raise BodyError(f"{name} is not a number JSON allows")


def _check_text(value: Any) -> None:
    """Refuse strings no database stores: NUL characters and unpaired surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BodyError("text may not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise BodyError("text contains an unpaired UTF-16 surrogate") from err
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def parse_body(data: bytes) -> Any:
    """Parse an untrusted request body: exact decimals, bounded numbers, storable text.

    Raises ``BodyError`` (a ValueError) with a reason an operator can read.
    """
    try:
        value = simplejson.loads(
            data,
            use_decimal=False,
            parse_float=_number,
            parse_int=_integer,
            parse_constant=_constant,
        )
    except RecursionError as err:
        raise BodyError("nested too deeply") from err
    except simplejson.JSONDecodeError as err:
        raise BodyError(str(err)) from err
    except UnicodeDecodeError as err:
        raise BodyError("the body is not UTF-8") from err
    # The costly walk runs only when an escape that could produce such text is present.
    lowered = data.lower()
    if b"\\u0000" in lowered or b"\\ud" in lowered or b"\x00" in data:
        _check_text(value)
    return value


def canonical(obj: Any) -> str:
    """Serialize deterministically (sorted keys, no spaces): for hashing request bodies."""
    return dumps(obj, sort_keys=True, separators=(",", ":"))


def digest(obj: Any) -> str:
    """Return the SHA-256 (hex) of the canonical JSON: equal for bodies that mean the same."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return iso(obj)
    isoformat = getattr(obj, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    return str(obj)


__all__ = ["Decimal", "canonical", "digest", "dumps", "loads"]
