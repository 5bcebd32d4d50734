"""Claim and part tokens are bound to their holder (SPEC §7): another addressee's use is 409.

The decision: another addressee of the same instance presenting the holder's token gets
``409 claim_lost`` (it can see the document, so a 404 would be a lie; it holds no claim, so its
work is refused the way a late holder's is), and nothing changes.
"""

from typing import Any

from tests.api.test_collective import push_count
from tests.helpers import (
    Client,
    TenantKeys,
    Terminal,
    assert_error,
    doc,
    document,
    join,
    operator,
)

LINES = [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}]


def complete_with(
    api: Client, terminal: Terminal, instance_id: str, token: str, **extra: Any
) -> Any:
    return api.complete(terminal, instance_id, LINES, expect=None, claim_token=token, **extra)


def shared_order(api: Client, tenant: TenantKeys, logins: list[str]) -> str:
    pushed = api.push(tenant, "order-picking", [doc()], {"users": logins})
    (instance,) = pushed.json["documents"][0]["instances"]
    return str(instance["id"])


def test_another_operators_use_of_a_claim_token_is_refused(api: Client, tenant: TenantKeys) -> None:
    ivanov, petrov = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    instance_id = shared_order(api, tenant, ["ivanov", "petrov"])
    api.claim(ivanov, instance_id)
    token = ivanov.claims[instance_id]
    assert_error(complete_with(api, petrov, instance_id, token), 409, "claim_lost")
    # Nothing changed: the holder completes with the same token, and the timeline says so.
    done = complete_with(api, ivanov, instance_id, token)
    assert done.status_code == 200, done.json
    document_id = api.get(f"/api/v1/terminal/documents/{instance_id}", ivanov.bearer).json[
        "document_id"
    ]
    timeline = document(api, tenant, document_id)["timeline"]
    assert [e["kind"] for e in timeline if e["kind"] in ("claimed", "completed")] == [
        "claimed",
        "completed",
    ]


def test_a_session_claim_is_bound_to_the_operator_on_that_device(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov")
    api.user(tenant, "petrov")
    ivanov, petrov = api.login(terminal, "ivanov"), api.login(terminal, "petrov")
    instance_id = shared_order(api, tenant, ["ivanov", "petrov"])
    api.claim(ivanov, instance_id)
    token = ivanov.claims[instance_id]
    assert_error(complete_with(api, petrov, instance_id, token), 409, "claim_lost")
    # The bare device token does not hold an operator's claim either.
    device_only = Terminal(terminal.device_id, terminal.pin, terminal.token)
    assert_error(complete_with(api, device_only, instance_id, token), 409, "claim_lost")
    assert complete_with(api, ivanov, instance_id, token).status_code == 200


def test_a_device_claim_serves_every_operator_on_that_device_only(
    api: Client, tenant: TenantKeys
) -> None:
    """A claim made with the device token belongs to the device (README, Decisions)."""
    mine, other = api.enroll(tenant, serial="A"), api.enroll(tenant, serial="B")
    api.user(tenant, "ivanov")
    api.user(tenant, "petrov")
    pushed = api.push(tenant, "purchase-receipt", [doc()], {"pin": mine.pin})
    (instance,) = pushed.json["documents"][0]["instances"]
    instance_id = instance["id"]
    api.claim(mine, instance_id)
    token = mine.claims[instance_id]
    assert_error(complete_with(api, other, instance_id, token), 404, "document_not_found")
    # An operator logged in on the claiming device may complete its claim.
    on_mine = api.login(mine, "petrov")
    assert complete_with(api, on_mine, instance_id, token).status_code == 200


def test_another_participants_part_token_is_refused(api: Client, tenant: TenantKeys) -> None:
    ivanov, petrov = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    document_id, instance_id = push_count(api, tenant, ["ivanov", "petrov"])
    join(api, ivanov, instance_id)
    join(api, petrov, instance_id)
    part_token = ivanov.claims[instance_id]
    lines = [{"line_id": "1", "qty": 3}]
    refused = api.complete(
        petrov, instance_id, lines, expect=None, claim_token=part_token, close=False
    )
    assert_error(refused, 409, "claim_lost")
    (instance,) = document(api, tenant, document_id)["instances"]
    assert {p["state"] for p in instance["parts"]} == {"open"}
    done = api.complete(
        ivanov, instance_id, lines, expect=None, claim_token=part_token, close=False
    )
    assert done.status_code == 200, done.json
