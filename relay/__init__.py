"""Relay: documents between an accounting system and warehouse terminals."""

from relay.app import create_app

__all__ = ["create_app"]
