"""Relay: documents between an accounting system and warehouse terminals."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relay.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `relay.client` and its command-line tools run on terminals and
    # accounting machines without loading Flask and SQLAlchemy (seconds of start-up each run).
    if name == "create_app":
        from relay.app import create_app

        return create_app
    raise AttributeError(f"module 'relay' has no attribute {name!r}")
