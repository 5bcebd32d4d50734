"""The terminal's client: enroll, log operators in, poll the inbox, claim, complete, upload.

A completion carries a ``submission_id`` made once, when the completion is made, and kept for
every retry of it (here, and across restarts in :mod:`relay.client.store`): the relay applies a
submission once and answers a repeat with the first answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from relay.client.errors import ApiError, NotFound, error_from_body
from relay.client.http import HttpClient, RetryPolicy

INBOX = "/api/v1/terminal/documents"


def new_submission_id() -> str:
    """A fresh submission id: one per completion, reused on each of its retries."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Enrollment:
    """What enrollment gave the terminal: its id, its PIN and its token (shown once)."""

    device_id: str
    pin: str
    token: str
    name: str = ""
    mode: str = "offline"


@dataclass
class Completion:
    """One completion of an instance, with the submission id its retries share."""

    instance_id: str
    claim_token: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)
    close: bool = True
    submission_id: str = field(default_factory=new_submission_id)

    def body(self) -> dict[str, Any]:
        """The body of ``POST …/documents/{id}/complete``."""
        return {
            "submission_id": self.submission_id,
            "claim_token": self.claim_token,
            "close": self.close,
            "header": self.header,
            "lines": self.lines,
        }

    def batch_item(self) -> dict[str, Any]:
        """The item of ``POST /api/v1/terminal/completions``."""
        return {"id": self.instance_id, **self.body()}

    @classmethod
    def from_batch_item(cls, item: Mapping[str, Any]) -> Completion:
        return cls(
            instance_id=item["id"],
            claim_token=item["claim_token"],
            lines=list(item.get("lines") or []),
            header=dict(item.get("header") or {}),
            close=bool(item.get("close", True)),
            submission_id=item["submission_id"],
        )


@dataclass(frozen=True)
class BatchOutcome:
    """The relay's answer to one completion of a batch: the status it would have had alone."""

    id: str | None
    submission_id: str | None
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def error(self) -> ApiError | None:
        return None if self.ok else error_from_body(self.status, self.body)


@dataclass(frozen=True)
class InboxPoll:
    """One poll of the inbox: whether it changed since the last poll, and what it holds."""

    changed: bool
    documents: list[dict[str, Any]]
    etag: str | None


class TerminalClient(HttpClient):
    """Calls made with a device token or an operator's session token.

    ``claims`` remembers the claim token of every document this client claimed or joined, so
    :meth:`complete` needs only the instance id.
    """

    def __init__(self, base_url: str, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, token, **kwargs)
        self.claims: dict[str, str] = {}
        self._etag: str | None = None
        self._inbox: list[dict[str, Any]] = []

    # -- enrollment and sessions -----------------------------------------------------------

    @classmethod
    def enroll(
        cls,
        base_url: str,
        code: str,
        *,
        name: str,
        model: str = "",
        serial: str = "",
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
    ) -> tuple[TerminalClient, Enrollment]:
        """Enroll with a code; return a client holding the new device token, and the PIN.

        Not retried once sent: an enrollment spends a use of its code.
        """
        client = cls(base_url, None, session=session, retry=retry)
        try:
            body = client.post(
                "/api/v1/terminal/enroll",
                {"code": code, "name": name, "model": model, "serial": serial},
                idempotent=False,
            )
        except BaseException:
            client.close()
            raise
        client.token = body["token"]
        enrollment = Enrollment(
            device_id=body["device_id"],
            pin=body["pin"],
            token=body["token"],
            name=body.get("name", name),
            mode=body.get("mode", "offline"),
        )
        return client, enrollment

    def login(self, login: str, password: str) -> tuple[TerminalClient, dict[str, Any]]:
        """Log an operator in; return a client with the session token (same connections)."""
        body = self.post(
            "/api/v1/terminal/sessions", {"login": login, "password": password}, idempotent=False
        )
        operator: TerminalClient = self._with(TerminalClient, body["session_token"])
        return operator, body

    def logout(self) -> None:
        """End this operator session."""
        self.request("DELETE", "/api/v1/terminal/sessions/current", idempotent=True)

    # -- the inbox -------------------------------------------------------------------------

    def inbox(self, *, page_size: int | None = None) -> list[dict[str, Any]]:
        """Every document in the inbox (all pages)."""
        return list(self.iter_pages(INBOX, "documents", {"limit": page_size}))

    def poll_inbox(self, *, page_size: int | None = None) -> InboxPoll:
        """Poll the inbox cheaply: an unchanged inbox answers 304 and reads nothing.

        The first page's ETag stands for the whole inbox (it changes with any change to what
        this terminal or its operator is sent or holds), so later pages are read only when it
        changed.
        """
        headers = {"If-None-Match": self._etag} if self._etag else {}
        answer = self.request(
            "GET",
            INBOX,
            params={"limit": page_size},
            headers=headers,
            idempotent=True,
            ok=(200, 304),
        )
        if answer.status == 304:
            return InboxPoll(False, list(self._inbox), self._etag)
        documents = list(answer.body["documents"])
        cursor = answer.body.get("next")
        if cursor:
            documents += self.iter_pages(INBOX, "documents", {"limit": page_size, "after": cursor})
        self._etag = answer.headers.get("ETag")
        self._inbox = documents
        return InboxPoll(True, list(documents), self._etag)

    def document(self, instance_id: str) -> dict[str, Any]:
        """One document with its header and declared lines."""
        answer: dict[str, Any] = self.get(f"{INBOX}/{instance_id}")
        return answer

    # -- claim, join, release ----------------------------------------------------------------

    def claim(self, instance_id: str) -> str:
        """Claim a document and return its claim token (safe to retry: the holder claiming
        again gets a fresh token)."""
        body = self.post(f"{INBOX}/{instance_id}/claim", idempotent=True)
        self.claims[instance_id] = body["claim_token"]
        return str(body["claim_token"])

    def join(self, instance_id: str) -> dict[str, Any]:
        """Join a collective document; the answer's ``claim_token`` submits this part."""
        body: dict[str, Any] = self.post(f"{INBOX}/{instance_id}/join", idempotent=True)
        self.claims[instance_id] = body["claim_token"]
        return body

    def release(self, instance_id: str) -> dict[str, Any]:
        """Give a document back (or dismiss one that was cancelled)."""
        body: dict[str, Any] = self.post(f"{INBOX}/{instance_id}/release", idempotent=True)
        self.claims.pop(instance_id, None)
        return body

    # -- completion ------------------------------------------------------------------------

    def completion(
        self,
        instance_id: str,
        lines: Sequence[Mapping[str, Any]],
        *,
        header: Mapping[str, Any] | None = None,
        close: bool = True,
        claim_token: str | None = None,
    ) -> Completion:
        """Make a completion with a fresh submission id (the claim token from ``claims``)."""
        token = claim_token or self.claims.get(instance_id)
        if not token:
            raise ValueError(f"No claim token for {instance_id}: claim or join it first.")
        return Completion(
            instance_id=instance_id,
            claim_token=token,
            lines=[dict(line) for line in lines],
            header=dict(header or {}),
            close=close,
        )

    def complete(
        self,
        instance_id: str,
        lines: Sequence[Mapping[str, Any]],
        *,
        header: Mapping[str, Any] | None = None,
        close: bool = True,
        claim_token: str | None = None,
    ) -> dict[str, Any]:
        """Complete a claimed document (or submit a collective part) and return the answer."""
        return self.submit(
            self.completion(instance_id, lines, header=header, close=close, claim_token=claim_token)
        )

    def submit(self, completion: Completion) -> dict[str, Any]:
        """Send a completion; its retries reuse its submission id, so it is applied once."""
        body: dict[str, Any] = self.post(
            f"{INBOX}/{completion.instance_id}/complete", completion.body(), idempotent=True
        )
        if completion.close:
            self.claims.pop(completion.instance_id, None)
        return body

    def submit_batch(self, completions: Sequence[Completion]) -> list[BatchOutcome]:
        """Upload many completions at once; each is applied alone and answered alone."""
        body = self.post(
            "/api/v1/terminal/completions",
            {"completions": [c.batch_item() for c in completions]},
            idempotent=True,
        )
        return [
            BatchOutcome(
                id=item.get("id"),
                submission_id=item.get("submission_id"),
                status=int(item["status"]),
                body=dict(item.get("body") or {}),
            )
            for item in body["results"]
        ]

    # -- catalogs --------------------------------------------------------------------------

    def catalogs(self) -> list[dict[str, Any]]:
        """The catalogs with their versions: sync those whose version moved."""
        return list(self.get("/api/v1/terminal/catalogs")["catalogs"])

    def catalog_page(
        self, name: str, *, since: int, after: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """One page of the changes since ``since``: items, deleted ids, version, next."""
        answer: dict[str, Any] = self.get(
            f"/api/v1/terminal/catalogs/{quote(name, safe='')}",
            {"since": since, "after": after, "limit": limit},
        )
        return answer

    def catalog_changes(
        self, name: str, since: int, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every page of the changes since ``since``; store the last page's ``version``.

        An ``ApiError`` with status 410 and code ``resync_required`` (deletions since then were
        purged) means: reload from ``since=0``.
        """
        after: str | None = None
        while True:
            page = self.catalog_page(name, since=since, after=after, limit=limit)
            yield page
            after = page.get("next")
            if not after:
                return

    def barcode(self, barcode: str) -> dict[str, Any] | None:
        """What a barcode names (a product with the packaging's factor, or a cell), or None."""
        try:
            answer: dict[str, Any] = self.get(
                f"/api/v1/terminal/barcodes/{quote(barcode, safe='')}"
            )
        except NotFound as err:
            if err.code == "barcode_not_found":
                return None
            raise
        return answer
