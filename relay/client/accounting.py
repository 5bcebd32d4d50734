"""The accounting side's client: push documents, pick devices, pull results and ack them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from relay.client.http import HttpClient

# The relay acknowledges at most this many ids per request.
ACK_CHUNK = 1000


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
