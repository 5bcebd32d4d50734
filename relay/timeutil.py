"""Times are timezone-aware UTC inside the relay and ISO 8601 with a Z on the wire."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """Format as ISO 8601 UTC with a Z suffix, e.g. 2026-11-20T10:15:00.123Z."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
