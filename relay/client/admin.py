"""The admin's client: enrollment codes, users, groups, devices, rules, webhook, dead letters.

An admin key may do everything the accounting key does, so this client is an
:class:`AccountingClient` too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from relay.client.accounting import AccountingClient

ADMIN = "/api/v1/admin"


def _seg(value: str) -> str:
    """A login or group name as one URL path segment (Cyrillic and spaces included)."""
    return quote(value, safe="")


class AdminClient(AccountingClient):
    """Calls made with the admin key."""

    # -- enrollment ------------------------------------------------------------------------

    def create_enrollment_code(
        self, *, uses: int | None = None, ttl_seconds: int | None = None
    ) -> dict[str, Any]:
        """Create an enrollment code (single use, 24 h unless told otherwise)."""
        body = {"uses": uses, "ttl_seconds": ttl_seconds}
        answer: dict[str, Any] = self.post(
            f"{ADMIN}/enrollment-codes",
            {k: v for k, v in body.items() if v is not None},
            idempotent=False,
        )
        return answer

    # -- users -----------------------------------------------------------------------------

    def create_user(self, login: str, password: str, *, name: str = "") -> dict[str, Any]:
        """Create an operator (not retried: a repeat would answer 409 user_exists)."""
        answer: dict[str, Any] = self.post(
            f"{ADMIN}/users", {"login": login, "name": name, "password": password}, idempotent=False
        )
        return answer

    def users(self, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self.iter_pages(f"{ADMIN}/users", "users", {"limit": page_size})

    def user(self, login: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"{ADMIN}/users/{_seg(login)}")
        return answer

    def update_user(
        self, login: str, *, name: str | None = None, password: str | None = None
    ) -> dict[str, Any]:
        """Rename an operator or set a new password (which ends their sessions)."""
        body = {k: v for k, v in {"name": name, "password": password}.items() if v is not None}
        return self._patch(f"{ADMIN}/users/{_seg(login)}", body)

    def delete_user(self, login: str) -> None:
        self.request("DELETE", f"{ADMIN}/users/{_seg(login)}", idempotent=False)

    # -- groups ----------------------------------------------------------------------------

    def create_group(self, name: str, members: Sequence[str] = ()) -> dict[str, Any]:
        """Create a group of operators (not retried: a repeat would answer 409 group_exists)."""
        answer: dict[str, Any] = self.post(
            f"{ADMIN}/groups", {"name": name, "members": list(members)}, idempotent=False
        )
        return answer

    def groups(self, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self.iter_pages(f"{ADMIN}/groups", "groups", {"limit": page_size})

    def group(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"{ADMIN}/groups/{_seg(name)}")
        return answer

    def update_group(
        self, name: str, *, new_name: str | None = None, members: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Rename a group or replace its members."""
        body: dict[str, Any] = {}
        if new_name is not None:
            body["name"] = new_name
        if members is not None:
            body["members"] = list(members)
        return self._patch(f"{ADMIN}/groups/{_seg(name)}", body)

    def delete_group(self, name: str) -> None:
        self.request("DELETE", f"{ADMIN}/groups/{_seg(name)}", idempotent=False)

    # -- devices ---------------------------------------------------------------------------

    def admin_devices(
        self, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every device, active and revoked (or only ``status``)."""
        return self.iter_pages(
            f"{ADMIN}/devices", "devices", {"status": status, "limit": page_size}
        )

    def device(self, device_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"{ADMIN}/devices/{device_id}")
        return answer

    def update_device(
        self, device_id: str, *, name: str | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        """Rename a device or switch its mode (``online`` / ``offline``)."""
        body = {k: v for k, v in {"name": name, "mode": mode}.items() if v is not None}
        return self._patch(f"{ADMIN}/devices/{device_id}", body)

    def revoke_device(self, device_id: str) -> dict[str, Any]:
        """Revoke a device; the answer lists its unfinished documents to reroute."""
        answer: dict[str, Any] = self.post(f"{ADMIN}/devices/{device_id}/revoke", idempotent=False)
        return answer

    def new_pin(self, device_id: str) -> dict[str, Any]:
        """Give a device a new PIN (not retried: each call issues another)."""
        answer: dict[str, Any] = self.post(f"{ADMIN}/devices/{device_id}/new-pin", idempotent=False)
        return answer

    def release_document(
        self, document_id: str, *, instance_id: str | None = None
    ) -> dict[str, Any]:
        """Take a claim away from a terminal: the document goes back to the queue."""
        body = {"instance_id": instance_id} if instance_id is not None else {}
        answer: dict[str, Any] = self.post(
            f"/api/v1/documents/{document_id}/release", body, idempotent=False
        )
        return answer

    # -- business processes ----------------------------------------------------------------

    def business_processes(self) -> Iterator[dict[str, Any]]:
        return self.iter_pages(f"{ADMIN}/business-processes", "business_processes")

    def business_process(self, key: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"{ADMIN}/business-processes/{_seg(key)}")
        return answer

    def put_business_process(self, key: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a business process (a new version)."""
        answer = self.request(
            "PUT", f"{ADMIN}/business-processes/{_seg(key)}", json=dict(definition), idempotent=True
        )
        result: dict[str, Any] = answer.body
        return result

    def patch_business_process(self, key: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some fields of a business process (a new version)."""
        return self._patch(f"{ADMIN}/business-processes/{_seg(key)}", dict(changes))

    # -- online mode: webhook and dead letters ---------------------------------------------

    def set_webhook(self, url: str, *, enabled: bool = True) -> dict[str, Any]:
        """Set the URL results are delivered to in online mode; the answer shows the secret."""
        answer = self.request(
            "PUT", f"{ADMIN}/webhook", json={"url": url, "enabled": enabled}, idempotent=True
        )
        result: dict[str, Any] = answer.body
        return result

    def rotate_webhook_secret(self) -> dict[str, Any]:
        """Make a new signing secret (both sign for a grace period); not retried."""
        answer: dict[str, Any] = self.post(f"{ADMIN}/webhook/rotate-secret", idempotent=False)
        return answer

    def test_webhook(self) -> dict[str, Any]:
        """Send a test ping to the webhook and report how it answered."""
        answer: dict[str, Any] = self.post(f"{ADMIN}/webhook/test", idempotent=False)
        return answer

    def dead_letters(self, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Results whose delivery gave up after the last retry."""
        return self.iter_pages(f"{ADMIN}/dead-letters", "dead_letters", {"limit": page_size})

    def replay_dead_letter(self, dead_letter_id: str) -> dict[str, Any]:
        """Deliver a dead letter again (not retried automatically)."""
        answer: dict[str, Any] = self.post(
            f"{ADMIN}/dead-letters/{dead_letter_id}/replay", idempotent=False
        )
        return answer

    def _patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        # A PATCH sets fields to given values: sending it twice ends in the same state.
        result: dict[str, Any] = self.request("PATCH", path, json=dict(body), idempotent=True).body
        return result
