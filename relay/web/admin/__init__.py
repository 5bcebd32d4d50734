"""The admin console at /admin/: one views module per object, templates mirroring them."""

from relay.web.admin import (
    catalogs,
    devices,
    documents,
    overview,
    processes,
    results,
    sign_in,
    users,
    webhook,
)
from relay.web.admin.base import bp

__all__ = [
    "bp",
    "catalogs",
    "devices",
    "documents",
    "overview",
    "processes",
    "results",
    "sign_in",
    "users",
    "webhook",
]
