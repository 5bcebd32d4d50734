"""Tables only; the rules that use them live in the domain modules."""

from relay.models.base import Base
from relay.models.catalog import (
    Catalog,
    CatalogBarcode,
    CatalogItem,
    CatalogPacket,
    CatalogUpload,
)
from relay.models.console import AuditEntry, ConsoleAccount, ConsoleSession
from relay.models.directory import Device, Group, GroupMember, User
from relay.models.document import (
    Document,
    Event,
    Instance,
    InstanceAddressee,
    InstanceState,
    Part,
    PartState,
    Result,
    Submission,
)
from relay.models.process import BusinessProcess, BusinessProcessVersion
from relay.models.tenant import Credential, EnrollmentCode, Tenant
from relay.models.throttle import FailureCounter
from relay.models.webhook import OutboxEntry, OutboxState, WebhookEndpoint

__all__ = [
    "AuditEntry",
    "Base",
    "BusinessProcess",
    "BusinessProcessVersion",
    "Catalog",
    "CatalogBarcode",
    "CatalogItem",
    "CatalogPacket",
    "CatalogUpload",
    "ConsoleAccount",
    "ConsoleSession",
    "Credential",
    "Device",
    "Document",
    "EnrollmentCode",
    "Event",
    "FailureCounter",
    "Group",
    "GroupMember",
    "Instance",
    "InstanceAddressee",
    "InstanceState",
    "OutboxEntry",
    "OutboxState",
    "Part",
    "PartState",
    "Result",
    "Submission",
    "Tenant",
    "User",
    "WebhookEndpoint",
]
