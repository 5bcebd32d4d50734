"""The accounting side's client: push documents, pick devices, pull results and ack them, and
send catalogs (products, cells, stock, prices) for terminals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from relay.client.http import HttpClient

# The relay acknowledges at most this many ids per request.
ACK_CHUNK = 1000
# The relay's default cap on items per catalog packet.
PACKET_SIZE = 5000


def catalog_path(name: str, *rest: str) -> str:
    """The URL path of a catalog resource, the name quoted."""
    return "/".join([f"/api/v1/catalogs/{quote(name, safe='')}", *rest])


@dataclass
class Acked:
    """What an acknowledgement did: newly processed ids and ids that already were."""

    processed: list[str] = field(default_factory=list)
    already_processed: list[str] = field(default_factory=list)


class AccountingClient(HttpClient):
    """Calls made with the accounting key (an admin key may make them too)."""

    # -- documents -------------------------------------------------------------------------

    def push(
        self,
        business_process: str,
        documents: Sequence[Mapping[str, Any]],
        *,
        target: Mapping[str, Any] | None = None,
        next_target: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Push documents under one business process (all routed, or none stored).

        ``target`` is ``{"pin": …}``, ``{"device_id": …}``, ``{"users": […], "groups": […]}``,
        ``{"all": True}`` or None for the process default. Safe to retry: pushing identical
        content again answers ``unchanged``.
        """
        body: dict[str, Any] = {"business_process": business_process, "documents": list(documents)}
        if target is not None:
            body["target"] = dict(target)
        if next_target is not None:
            body["next_target"] = dict(next_target)
        return self.push_body(body)

    def push_body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Push a ready-made body (Appendix A), e.g. read from a file."""
        answer: dict[str, Any] = self.post("/api/v1/documents", dict(body), idempotent=True)
        return answer

    def documents(
        self,
        *,
        business_process: str | None = None,
        external_id: str | None = None,
        state: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Iterate over documents, oldest first, across pages."""
        return self.iter_pages(
            "/api/v1/documents",
            "documents",
            {
                "business_process": business_process,
                "external_id": external_id,
                "state": state,
                "limit": page_size,
            },
        )

    def document(self, document_id: str) -> dict[str, Any]:
        """Read a document with its instances, results and timeline."""
        answer: dict[str, Any] = self.get(f"/api/v1/documents/{document_id}")
        return answer

    def cancel(self, document_id: str) -> dict[str, Any]:
        """Cancel a document not completed yet (cancelling twice is harmless)."""
        answer: dict[str, Any] = self.post(
            f"/api/v1/documents/{document_id}/cancel", idempotent=True
        )
        return answer

    def reroute(
        self, document_id: str, target: Mapping[str, Any], *, instance_id: str | None = None
    ) -> dict[str, Any]:
        """Send a queued or claimed document to a new target (not retried automatically)."""
        body: dict[str, Any] = {"target": dict(target)}
        if instance_id is not None:
            body["instance_id"] = instance_id
        answer: dict[str, Any] = self.post(
            f"/api/v1/documents/{document_id}/reroute", body, idempotent=False
        )
        return answer

    def close_document(self, document_id: str, *, instance_id: str | None = None) -> dict[str, Any]:
        """Close a collective document: its submitted parts become the result(s)."""
        body = {"instance_id": instance_id} if instance_id is not None else {}
        answer: dict[str, Any] = self.post(
            f"/api/v1/documents/{document_id}/close", body, idempotent=False
        )
        return answer

    # -- devices ---------------------------------------------------------------------------

    def devices(self, *, page_size: int | None = None) -> list[dict[str, Any]]:
        """The active devices with their PINs: the picker that saves typing a PIN."""
        return list(self.iter_pages("/api/v1/devices", "devices", {"limit": page_size}))

    # -- results ---------------------------------------------------------------------------

    def results(self, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Iterate over one reading of the results feed, from its start.

        Read from the start on every poll: a result stays in the feed until acknowledged, so
        one whose transaction committed late is found next time, never skipped.
        """
        return self.iter_pages("/api/v1/results", "results", {"limit": page_size})

    def result(self, result_id: str) -> dict[str, Any]:
        """Read one result, processed or not."""
        answer: dict[str, Any] = self.get(f"/api/v1/results/{result_id}")
        return answer

    def ack(self, ids: Iterable[str]) -> Acked:
        """Mark results processed (in chunks the relay accepts); repeating it is harmless."""
        wanted = list(dict.fromkeys(ids))
        out = Acked()
        for start in range(0, len(wanted), ACK_CHUNK):
            answer = self.post(
                "/api/v1/results/ack", {"ids": wanted[start : start + ACK_CHUNK]}, idempotent=True
            )
            out.processed += answer["processed"]
            out.already_processed += answer["already_processed"]
        return out

    # -- catalogs --------------------------------------------------------------------------

    def catalogs(self) -> list[dict[str, Any]]:
        """The tenant's catalogs with their versions and item counts."""
        return list(self.get("/api/v1/catalogs")["catalogs"])

    def catalog(self, name: str) -> dict[str, Any]:
        """One catalog: its version and item count."""
        answer: dict[str, Any] = self.get(catalog_path(name))
        return answer

    def catalog_items(
        self, name: str, *, since: int = 0, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Iterate over a catalog's items (or those changed since a version), across pages."""
        return self.iter_pages(
            catalog_path(name, "items"), "items", {"since": since, "limit": page_size}
        )

    def merge_items(self, name: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Upsert up to a packet's worth of items at once (safe to retry: same items, no change)."""
        answer: dict[str, Any] = self.request(
            "PUT", catalog_path(name, "items"), json={"items": list(items)}, idempotent=True
        ).body
        return answer

    def delete_items(self, name: str, ids: Iterable[str]) -> dict[str, Any]:
        """Delete items by id (deleting twice is harmless)."""
        answer: dict[str, Any] = self.post(
            catalog_path(name, "delete"), {"ids": list(ids)}, idempotent=True
        )
        return answer

    def open_upload(self, name: str, *, mode: str, packets: int) -> dict[str, Any]:
        """Open an upload of ``packets`` packets, ``merge`` or ``mirror``.

        Retried like an idempotent call: an upload opened twice leaves one unused, which
        expires on its own.
        """
        answer: dict[str, Any] = self.post(
            catalog_path(name, "uploads"), {"mode": mode, "packets": packets}, idempotent=True
        )
        return answer

    def upload(self, name: str, upload_id: str) -> dict[str, Any]:
        """An upload's state: packets received and missing, the commit's answer once made."""
        answer: dict[str, Any] = self.get(catalog_path(name, "uploads", upload_id))
        return answer

    def send_packet(
        self, name: str, upload_id: str, number: int, items: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Send packet ``number`` (1-based); sending it again is harmless."""
        answer: dict[str, Any] = self.request(
            "PUT",
            catalog_path(name, "uploads", upload_id, "packets", str(number)),
            json={"items": list(items)},
            idempotent=True,
        ).body
        return answer

    def commit_upload(
        self, name: str, upload_id: str, *, confirm_deletions: bool = False
    ) -> dict[str, Any]:
        """Apply the upload as one new version (a repeated commit gets the same answer).

        A mirror deleting more than the relay's threshold raises ``Conflict`` with code
        ``deletions_need_confirmation`` (``details``: ``deletions``, ``sample``) unless
        ``confirm_deletions``.
        """
        answer: dict[str, Any] = self.post(
            catalog_path(name, "uploads", upload_id, "commit"),
            {"confirm_deletions": confirm_deletions},
            idempotent=True,
        )
        return answer

    def upload_catalog(
        self,
        name: str,
        items: Sequence[Mapping[str, Any]],
        *,
        mirror: bool = False,
        packet_size: int = PACKET_SIZE,
        on_packet: Callable[[int, int], None] | None = None,
    ) -> str:
        """Open an upload and send ``items`` in packets; return the upload id to commit.

        ``on_packet(number, items)`` is called after each packet (a progress bar).
        """
        if packet_size < 1:
            raise ValueError("packet_size must be at least 1")
        packets = [items[i : i + packet_size] for i in range(0, len(items), packet_size)] or [[]]
        opened = self.open_upload(name, mode="mirror" if mirror else "merge", packets=len(packets))
        for number, packet in enumerate(packets, 1):
            self.send_packet(name, opened["id"], number, packet)
            if on_packet is not None:
                on_packet(number, len(packet))
        return str(opened["id"])
