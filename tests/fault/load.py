"""A load of pushes, claims and completions through relay.client, and a ledger of what it saw.

Accounting pushes supplier orders to two terminals by PIN and customer orders to a group of two
operators; the four terminals poll, claim and complete everything until the pushers are done.
Every call goes through the client library and its retries, as a real 1C or terminal would.
The ledger records what was attempted and what was acknowledged, for the consistency check.
"""

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from relay.client import (
    AccountingClient,
    AdminClient,
    Conflict,
    RelayClientError,
    RetryPolicy,
    TerminalClient,
)
from tests.fault.audit import Audit
from tests.helpers import doc

# Patient enough to ride out a worker being respawned and a database restart (whose 503s
# carry Retry-After: 5), quick enough on a lost connection.
PATIENT = RetryPolicy(attempts=10, backoff=0.1, max_backoff=1.0)
# What a terminal sends back: exactly the declared quantities of tests.helpers.doc().
FULL = [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}]
DECLARED = {"1": Decimal(10), "2": Decimal(5)}
GROUP = "Сборщики"
PASSWORD = "secret-1"


class RetryLog(logging.Handler):
    """Counts the client library's retries (it logs each one), by what caused them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reasons: Counter[str] = Counter()
        self._lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            # "ConnectionError: …" for a cut or refused connection, "503 busy: …" for an answer.
            why = str(record.args[2]).split(":", 1)[0]
            with self._lock_:
                self.reasons[why] += 1

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    @property
    def transport(self) -> int:
        """Retries after a connection cut, refused or timed out (no HTTP answer at all)."""
        return sum(n for why, n in self.reasons.items() if why.endswith(("Error", "Timeout")))

    def count(self, status: int) -> int:
        return sum(n for why, n in self.reasons.items() if why.startswith(f"{status} "))


@dataclass
class Fleet:
    """A tenant's accounting client and its terminals, set up before any fault is injected."""

    url: str
    tenant: str
    accounting_key: str
    pins: list[str]
    pin_terminals: list[TerminalClient]
    operators: list[TerminalClient]
    # The devices the operators are logged in on: their sessions carry the operators' calls.
    devices: list[TerminalClient] = field(default_factory=list)

    def close(self) -> None:
        for client in self.pin_terminals + self.devices:
            client.close()


def enroll_fleet(url: str, keys: dict[str, Any], pins: int = 2, operators: int = 2) -> Fleet:
    """Enroll ``pins`` terminals addressed by PIN and ``operators`` logged in as group members."""
    with AdminClient(url, keys["admin_key"], retry=PATIENT) as admin:
        logins = [f"picker{n}" for n in range(operators)]
        for login in logins:
            admin.create_user(login, PASSWORD, name=login)
        admin.create_group(GROUP, logins)
        code = admin.create_enrollment_code(uses=pins + operators)["code"]
    fleet = Fleet(url, keys["tenant"], keys["accounting_key"], [], [], [])
    for n in range(pins + operators):
        terminal, enrolled = TerminalClient.enroll(url, code, name=f"ТСД-{n}", retry=PATIENT)
        if n < pins:
            fleet.pins.append(enrolled.pin)
            fleet.pin_terminals.append(terminal)
        else:
            operator, _ = terminal.login(logins[n - pins], PASSWORD)
            fleet.devices.append(terminal)
            fleet.operators.append(operator)
    return fleet


@dataclass
class Ledger:
    """What the clients attempted and what the relay acknowledged."""

    attempted: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)
    # instance id -> result id, from the completion answers.
    completed: dict[str, str] = field(default_factory=dict)
    completed_twice: list[str] = field(default_factory=list)
    collisions: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Load:
    """Pushers and terminals in threads, until the pushing stops and everything is completed.

    The pushers push at least ``least`` documents, then go on while ``until()`` is false (a
    fault still to come), never beyond ``most``.
    """

    def __init__(
        self,
        fleet: Fleet,
        *,
        least: int,
        most: int,
        until: Callable[[], bool] = lambda: True,
        pushers: int = 2,
        backlog: int = 24,
        seed: int = 0,
    ) -> None:
        self.fleet = fleet
        self.least = least
        self.most = most
        self.until = until
        self.pushers = pushers
        self.backlog = backlog
        self.ledger = Ledger()
        self.pushed_all = threading.Event()
        self.threads: list[threading.Thread] = []
        self.last_inbox: dict[str, list[dict[str, Any]]] = {}
        self._rng = random.Random(seed)
        self._targets: list[tuple[str, dict[str, Any]]] = [
            ("purchase-receipt", {"pin": pin}) for pin in fleet.pins
        ]
        self._targets.append(("order-picking", {"groups": [GROUP]}))
        self._planned = 0
        self._pushes = 0
        self._pushers_left = pushers
        self._lock = threading.Lock()

    def next_push(self) -> tuple[str, dict[str, Any], list[str]] | None:
        """The next push: 1 to 4 documents, by turns to each PIN and to the group.

        Accounting waits while the terminals are ``backlog`` documents behind, so the load
        stays a mix of pushes and completions rather than all pushes first.
        """
        deadline = time.monotonic() + 30
        while self._behind() >= self.backlog and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            if self._planned >= self.most or (self._planned >= self.least and self.until()):
                return None
            size = min(self._rng.randint(1, 4), self.most - self._planned)
            process, target = self._targets[self._pushes % len(self._targets)]
            external_ids = [f"{process}-{self._planned + k:05d}" for k in range(size)]
            self._planned += size
            self._pushes += 1
            return process, target, external_ids

    def _behind(self) -> int:
        with self.ledger.lock:
            return len(self.ledger.acked) - len(self.ledger.completed)

    # -- threads ---------------------------------------------------------------------------

    def start(self) -> None:
        for n in range(self.pushers):
            self._spawn(f"pusher-{n}", self._push, None)
        for terminal in self.fleet.pin_terminals + self.fleet.operators:
            self._spawn(f"terminal-{len(self.threads)}", self._work, terminal)

    def _spawn(self, name: str, target: Callable[..., None], arg: Any) -> None:
        def run() -> None:
            try:
                target(arg)
            except Exception as err:  # every failure is reported by the test
                with self.ledger.lock:
                    self.ledger.errors.append(f"{name}: {type(err).__name__}: {err}")

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _push(self, _: None) -> None:
        try:
            with AccountingClient(
                self.fleet.url, self.fleet.accounting_key, retry=PATIENT
            ) as accounting:
                while (push := self.next_push()) is not None:
                    process, target, external_ids = push
                    with self.ledger.lock:
                        self.ledger.attempted.update(external_ids)
                    answer = accounting.push(process, [doc(e) for e in external_ids], target=target)
                    got = [d["external_id"] for d in answer["documents"]]
                    assert got == external_ids, answer
                    with self.ledger.lock:
                        self.ledger.acked.update(got)
                        self.ledger.statuses.update(d["status"] for d in answer["documents"])
        finally:
            with self._lock:
                self._pushers_left -= 1
                if self._pushers_left == 0:
                    self.pushed_all.set()

    def _work(self, terminal: TerminalClient) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pushed_all = self.pushed_all.is_set()  # read before the poll: nothing comes after
            waiting = [d for d in terminal.inbox() if d["state"] in ("queued", "claimed")]
            self.last_inbox[threading.current_thread().name] = waiting
            if not waiting:
                if pushed_all:
                    return
                self.pushed_all.wait(0.05)
                continue
            for item in waiting:
                instance_id = item["id"]
                if not (item["claimed_by_me"] and instance_id in terminal.claims):
                    try:
                        terminal.claim(instance_id)
                    except Conflict as err:
                        # Another operator of the group got there first (and may have finished).
                        if err.code not in ("already_claimed", "already_completed"):
                            raise AssertionError(f"claim {instance_id}: {err}") from err
                        with self.ledger.lock:
                            self.ledger.collisions += 1
                        continue
                try:
                    answer = terminal.complete(instance_id, FULL)
                except RelayClientError as err:
                    raise AssertionError(f"complete {instance_id}: {err}") from err
                with self.ledger.lock:
                    if instance_id in self.ledger.completed:
                        self.ledger.completed_twice.append(instance_id)
                    self.ledger.completed[instance_id] = answer["result_id"]
        raise AssertionError("the terminal still had work after 120 s")

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, (
            f"load threads still running after {timeout} s: {alive}; "
            f"{len(self.ledger.acked)}/{len(self.ledger.attempted)} pushes acknowledged, "
            f"{len(self.ledger.completed)} completed; last inboxes: {self.last_inbox}"
        )


def check_nothing_lost_nothing_doubled(ledger: Ledger, stored: Audit) -> None:
    """Compare the ledger with the database: every push once, every completion once."""
    assert ledger.errors == [], ledger.errors
    assert ledger.attempted == ledger.acked, sorted(ledger.attempted - ledger.acked)
    assert stored.duplicated_external_ids() == []
    documents = stored.by_external_id()
    assert sorted(documents) == sorted(ledger.attempted), (
        f"lost: {sorted(ledger.attempted - set(documents))}, "
        f"unexpected: {sorted(set(documents) - ledger.attempted)}"
    )
    wrong = {
        d.external_id: d
        for d in stored.documents
        if (d.version, d.declared_lines, d.instances, d.results, d.submissions) != (1, 2, 1, 1, 1)
        or (d.events["pushed"], d.events["claimed"], d.events["completed"]) != (1, 1, 1)
        or set(d.events) - {"pushed", "claimed", "claim_renewed", "completed"}
    }
    assert wrong == {}, wrong
    assert Counter(i.state for i in stored.instances) == {"completed": len(documents)}

    assert ledger.completed_twice == []
    by_instance = {str(r.instance_id): r for r in stored.results}
    assert len(by_instance) == len(stored.results) == len(documents)
    assert sorted(ledger.completed) == sorted(by_instance), "completions lost or unreported"
    for instance_id, result_id in ledger.completed.items():
        assert str(by_instance[instance_id].id) == result_id
    for result in stored.results:
        # One actual line per declared line, as sent: a doubled line set would show here.
        actual = {
            line["line_id"]: [Decimal(str(a["qty"])) for a in line["actual"]]
            for line in result.lines
        }
        assert actual == {k: [v] for k, v in DECLARED.items()}, (result.external_id, result.lines)
        assert result.undeclared == []
