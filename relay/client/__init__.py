"""A Python client for the relay: accounting, terminals and admins over one requests.Session.

    from relay.client import AccountingClient, TerminalClient

    with AccountingClient("http://127.0.0.1:8000", accounting_key) as accounting:
        accounting.push("purchase-receipt", [order], target={"pin": "5546"})
        for result in accounting.results():
            ...  # load it into accounting, then
            accounting.ack([result["id"]])

Errors are typed (:class:`ApiError` and its subclasses carry the relay's ``code``,
``message`` and ``details``; :class:`TransportError` means no answer). Idempotent calls are
retried on connection failures, 429 and 502/503/504; see :mod:`relay.client.http`.
"""

import logging

from relay.client.accounting import AccountingClient, Acked
from relay.client.admin import AdminClient
from relay.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RelayClientError,
    ServerError,
    TransportError,
    Unauthorized,
    ValidationFailed,
)
from relay.client.http import NO_RETRY, RetryPolicy
from relay.client.store import (
    CatalogStore,
    CatalogSynced,
    CompletionStore,
    Delivery,
    StoreAndForward,
    SyncReport,
    sync_catalogs,
)
from relay.client.terminal import (
    BatchOutcome,
    Completion,
    Enrollment,
    InboxPoll,
    TerminalClient,
    new_submission_id,
)

# A library logs, the application decides what to show (retries are logged as warnings).
logging.getLogger("relay.client").addHandler(logging.NullHandler())

__all__ = [
    "NO_RETRY",
    "AccountingClient",
    "Acked",
    "AdminClient",
    "ApiError",
    "BadRequest",
    "BatchOutcome",
    "CatalogStore",
    "CatalogSynced",
    "Completion",
    "CompletionStore",
    "Conflict",
    "Delivery",
    "Enrollment",
    "Forbidden",
    "InboxPoll",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RelayClientError",
    "RetryPolicy",
    "ServerError",
    "StoreAndForward",
    "SyncReport",
    "TerminalClient",
    "TransportError",
    "Unauthorized",
    "ValidationFailed",
    "new_submission_id",
    "sync_catalogs",
]
