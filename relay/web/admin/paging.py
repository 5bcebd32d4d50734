"""Keyset cursors for the console's lists: opaque strings, a bad one starts from the top."""

import uuid
from datetime import datetime

from relay.ids import parse_uuid
from relay.models import AuditEntry


def encode_audit_cursor(entry: AuditEntry) -> str:
    return f"{entry.at.isoformat()}_{entry.id.hex}"


def audit_cursor(text: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Decode an audit-list cursor; anything malformed means the first page."""
    if not text or "_" not in text:
        return None
    at_text, _, id_text = text.rpartition("_")
    entry_id = parse_uuid(id_text)
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        return None
    if entry_id is None or at.tzinfo is None:
        return None
    return at, entry_id
