"""The CATALOG_* settings, read once from the app's configuration and passed in as values."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Limits, thresholds and ages of the catalog rules."""

    packet_max_items: int = 5000
    upload_max_packets: int = 1000
    item_max_bytes: int = 16 * 1024
    upload_ttl: timedelta = timedelta(days=1)
    confirm_fraction: float = 0.1
    confirm_count: int = 100
    tombstone_ttl: timedelta = timedelta(days=30)
    page_size_default: int = 1000
    page_size_max: int = 5000

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Settings":
        return cls(
            packet_max_items=int(config["CATALOG_PACKET_MAX_ITEMS"]),
            upload_max_packets=int(config["CATALOG_UPLOAD_MAX_PACKETS"]),
            item_max_bytes=int(config["CATALOG_ITEM_MAX_BYTES"]),
            upload_ttl=timedelta(seconds=float(config["CATALOG_UPLOAD_TTL_SECONDS"])),
            confirm_fraction=float(config["CATALOG_MIRROR_CONFIRM_FRACTION"]),
            confirm_count=int(config["CATALOG_MIRROR_CONFIRM_COUNT"]),
            tombstone_ttl=timedelta(seconds=float(config["CATALOG_TOMBSTONE_TTL_SECONDS"])),
            page_size_default=int(config["CATALOG_PAGE_SIZE_DEFAULT"]),
            page_size_max=int(config["CATALOG_PAGE_SIZE_MAX"]),
        )
