"""Identifiers and secrets."""

import hashlib
import os
import secrets
import time
import uuid


def new_id() -> uuid.UUID:
    """Return a time-ordered UUID (version 7, RFC 9562).

    Ordered ids keep B-tree inserts at the right edge of the index and make "oldest first" a
    primary-key order, to the millisecond (ids of one millisecond are in random order).
    """
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b, 62 bits
    return uuid.UUID(int=value)


def new_token(prefix: str) -> str:
    """Return a random bearer token (256 bits) with a type prefix secret scanners can match."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """Hash a token for storage and lookup; tokens carry 256 random bits, so SHA-256 suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_uuid(text: str) -> uuid.UUID | None:
    """Return the UUID in ``text``, or None when it is not one."""
    try:
        return uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None
