"""Fifty terminals race for a thousand group documents on a real gunicorn: one claim each."""

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest

from relay.client import AdminClient, Conflict, TerminalClient
from tests.fault.audit import audit
from tests.fault.conftest import StartRelay
from tests.fault.load import GROUP, PASSWORD, PATIENT
from tests.helpers import doc
from tests.racing import race

pytestmark = [pytest.mark.fault, pytest.mark.e2e]

TERMINALS = 50
DOCUMENTS = 1000
PUSH_SIZE = 500  # the relay's PUSH_MAX_DOCUMENTS
PAGE = 20
# Claims tried per read of the inbox (in random order from the page).
TRIES = 3
INBOX = "/api/v1/terminal/documents"
RACE_SECONDS = 50
# Documents all fifty terminals claim at the same instant, one after another, before the rest.
HOT = 10


@dataclass
class Tally:
    """What one terminal was told: the claims it won, and who held the ones it lost."""

    login: str
    won: list[str] = field(default_factory=list)
    lost: list[tuple[str, Any]] = field(default_factory=list)
    polls: int = 0


@dataclass
class Operator:
    login: str
    client: TerminalClient
    # The device the operator is logged in on: its session carries the operator's calls.
    device: TerminalClient


def operators(url: str, admin_key: str) -> list[Operator]:
    """Enroll TERMINALS devices and log a member of GROUP in on each."""
    logins = [f"picker{n:02d}" for n in range(TERMINALS)]
    with AdminClient(url, admin_key, retry=PATIENT) as admin:
        for login in logins:
            admin.create_user(login, PASSWORD, name=login)
        admin.create_group(GROUP, logins)
        code = admin.create_enrollment_code(uses=TERMINALS)["code"]

    def log_in(n: int) -> Operator:
        device, _ = TerminalClient.enroll(url, code, name=f"ТСД-{n:02d}", retry=PATIENT)
        operator, _ = device.login(logins[n], PASSWORD)
        return Operator(logins[n], operator, device)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(log_in, range(TERMINALS)))


def queued(client: TerminalClient, after: str | None) -> list[str]:
    """Queued documents of the first inbox page after ``after`` that has any, if one has."""
    params: dict[str, Any] = {"limit": PAGE, "after": after}
    while True:
        body = client.get(INBOX, params)
        found = [d["id"] for d in body["documents"] if d["state"] == "queued"]
        if found or not body["next"]:
            return found
        params["after"] = body["next"]


def try_claim(client: TerminalClient, instance_id: str) -> Any:
    """Claim; return None when won, or the holder the relay named when lost."""
    try:
        client.claim(instance_id)
    except Conflict as err:
        if err.code != "already_claimed":
            raise AssertionError(f"claim {instance_id}: {err}") from err
        return err.details["holder"]
    return None


def claim_until_none_left(
    login: str, client: TerminalClient, instance_ids: list[str], seed: int
) -> Tally:
    """Read a page of the inbox from a random place, claim a few of it, until none is queued.

    Starting anywhere in the queue (as operators scroll) spreads the terminals over it, so
    most claims win; they still collide often, and all of them at the end, on the last few.
    """
    rng = random.Random(seed)
    tally = Tally(login)
    deadline = time.monotonic() + RACE_SECONDS
    while time.monotonic() < deadline:
        page = queued(client, rng.choice(instance_ids)) or queued(client, None)
        tally.polls += 1
        if not page:
            return tally
        for instance_id in rng.sample(page, min(TRIES, len(page))):
            holder = try_claim(client, instance_id)
            if holder is None:
                tally.won.append(instance_id)
            else:
                tally.lost.append((instance_id, holder))
    raise AssertionError(f"{login} still found queued documents after {RACE_SECONDS} s")


@pytest.mark.timeout(90)
def test_fifty_terminals_claim_each_of_a_thousand_documents_exactly_once(
    server_env: dict[str, str], relays: StartRelay
) -> None:
    relay = relays(server_env, workers=4)
    keys = relay.create_tenant("fault-race")
    terminals = operators(relay.url, keys["admin_key"])
    instance_ids = []
    with AdminClient(relay.url, keys["accounting_key"], retry=PATIENT) as accounting:
        for start in range(0, DOCUMENTS, PUSH_SIZE):
            pushed = accounting.push(
                "order-picking",
                [doc(f"ЗаказКлиента-{n:05d}") for n in range(start, start + PUSH_SIZE)],
                target={"groups": [GROUP]},
            )
            instance_ids += [i["id"] for d in pushed["documents"] for i in d["instances"]]
    assert len(instance_ids) == DOCUMENTS

    started = time.monotonic()
    try:
        # All at once on each hot document: the claims meet in the database itself.
        hot_tallies = [Tally(t.login) for t in terminals]
        for instance_id in instance_ids[:HOT]:
            holders = race([partial(try_claim, t.client, instance_id) for t in terminals])
            for tally, holder in zip(hot_tallies, holders, strict=True):
                if holder is None:
                    tally.won.append(instance_id)
                else:
                    tally.lost.append((instance_id, holder))
        # Then everyone at their own pace over the rest.
        tallies = race(
            [
                partial(claim_until_none_left, t.login, t.client, instance_ids, n)
                for n, t in enumerate(terminals)
            ],
            timeout=RACE_SECONDS + 5,
        )
        for tally, hot in zip(tallies, hot_tallies, strict=True):
            tally.won += hot.won
            tally.lost += hot.lost
    finally:
        for terminal in terminals:
            terminal.device.close()
    raced = time.monotonic() - started

    # The API: every document won by exactly one terminal; each loser was told the winner.
    wins = Counter(i for t in tallies for i in t.won)
    assert sorted(wins) == sorted(instance_ids), "documents nobody claimed"
    assert set(wins.values()) == {1}, [i for i, n in wins.items() if n > 1]
    winner = {i: t.login for t in tallies for i in t.won}
    misnamed = [(i, h) for t in tallies for i, h in t.lost if h.get("login") != winner[i]]
    assert misnamed == []
    lost = sum(len(t.lost) for t in tallies)
    assert lost > 0, "no two terminals ever raced for one document"

    # The database: one instance each, claimed once, held by the terminal the API named.
    stored = audit(relay.database_url, keys["tenant"])
    assert stored.duplicated_external_ids() == []
    assert len(stored.documents) == DOCUMENTS
    assert {
        (d.instances, d.events["claimed"], d.events["claim_renewed"]) for d in stored.documents
    } == {(1, 1, 0)}
    assert {str(i.id): (i.state, i.holder_login) for i in stored.instances} == {
        i: ("claimed", login) for i, login in winner.items()
    }
    busiest = max(len(t.won) for t in tallies)
    print(
        f"\n{DOCUMENTS} documents, {TERMINALS} terminals, {lost} lost races, "
        f"{sum(t.polls for t in tallies)} polls, most claims by one terminal {busiest}, "
        f"fewest {min(len(t.won) for t in tallies)}, race {raced:.1f} s"
    )
