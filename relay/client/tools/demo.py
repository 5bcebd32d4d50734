"""`make demo`: a one-minute tour of the relay, from an empty database to acknowledged results.

It starts `relay serve` on a free 127.0.0.1 port with a fresh SQLite file in a temporary folder,
plays accounting, an admin and two terminals through :mod:`relay.client`, prints each step,
and always stops the server (also on Ctrl-C or SIGTERM) and removes the folder.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from relay.client import (
    AccountingClient,
    AdminClient,
    CompletionStore,
    RetryPolicy,
    StoreAndForward,
    TerminalClient,
)
from relay.client.tools.localserver import LocalRelay, free_port, group_alive

SUPPLIER_ORDER = {
    "external_id": "ЗаказПоставщику-0000-000123",
    "number": "0000-000123",
    "date": "2026-11-20",
    "header": {"warehouse": "Основной склад", "counterparty": "ООО Ромашка"},
    "lines": [
        {"line_id": "1", "product_id": "p-001", "name": "Молоко 1 л",
         "barcode": "4601234567890", "unit": "шт", "declared_qty": 10},
        {"line_id": "2", "product_id": "p-100", "name": "Сыр весовой",
         "barcode": "2000000001005", "unit": "кг", "declared_qty": Decimal("2.500")},
    ],
}  # fmt: skip
CUSTOMER_ORDER = {
    "external_id": "ЗаказКлиента-0000-000042",
    "number": "0000-000042",
    "date": "2026-11-20",
    "header": {"warehouse": "Основной склад", "counterparty": "ИП Петров"},
    "lines": [
        {"line_id": "1", "product_id": "p-001", "name": "Молоко 1 л", "declared_qty": 4},
        {"line_id": "2", "product_id": "p-002", "name": "Кефир 0,5 л", "declared_qty": 6},
    ],
}
GROUP = "Кладовщики"


class Tour:
    """Numbered steps with indented details, on one stream."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.number = 0

    def step(self, text: str) -> None:
        self.number += 1
        print(f"\n{self.number:2}. {text}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.out, flush=True)


def _short(token: str) -> str:
    return token[:14] + "…"


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit, so the server is stopped as on Ctrl-C."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(out: TextIO = sys.stdout, *, folder: str | None = None) -> float:
    """Play the tour; return how long it took in seconds."""
    started = time.monotonic()
    tour = Tour(out)
    with ExitStack() as stack:
        stack.enter_context(_stop_on_sigterm())
        root = Path(
            folder or stack.enter_context(tempfile.TemporaryDirectory(prefix="relay-demo-"))
        )
        print(f"Relay demo: a one-minute tour, on SQLite in {root}", file=out)
        relay = LocalRelay(f"sqlite:///{root / 'relay.sqlite3'}", log_path=root / "relay.log")
        try:
            _tour(tour, relay, root, stack.enter_context)
        finally:
            pid = relay.pid
            relay.stop()
        tour.step("Stop the relay")
        left = "its processes are STILL RUNNING" if group_alive(pid) else "nothing is left running"
        tour.say(f"gunicorn and its workers (process group {pid}) stopped: {left}")
    elapsed = time.monotonic() - started
    print(f"\nDone in {elapsed:.1f} s.", file=out, flush=True)
    return elapsed


def _tour(tour: Tour, relay: LocalRelay, root: Path, keep: Callable[[Any], Any]) -> None:
    tour.step("Create the database: relay db upgrade")
    relay.migrate()
    tour.step("Create a tenant (one accounting base): relay tenant create demo --json")
    keys = relay.create_tenant("demo")
    tour.say(
        f"admin key {_short(keys['admin_key'])}   accounting key {_short(keys['accounting_key'])}"
    )
    tour.say("(shown once, stored only as hashes)")
    tour.step(f"Start the relay: relay serve --bind 127.0.0.1:{relay.port} --workers 2")
    relay.start()
    tour.say(f"{relay.url} answers /readyz")

    admin = keep(AdminClient(relay.url, keys["admin_key"]))
    accounting = keep(AccountingClient(relay.url, keys["accounting_key"], session=admin.session))

    tour.step("Enroll two terminals with an enrollment code (as if scanned from its QR code)")
    code = admin.create_enrollment_code(uses=2)["code"]
    tour.say(f"enrollment code {code}")
    first, one = TerminalClient.enroll(relay.url, code, name="Склад-1", model="EDA50")
    second, two = TerminalClient.enroll(relay.url, code, name="Склад-2", model="TC21")
    keep(first)
    keep(second)
    for enrolled in (one, two):
        tour.say(f"{enrolled.name}: PIN {enrolled.pin}")

    tour.step(f"The admin creates two operators and the group «{GROUP}»")
    admin.create_user("ivanov", "ivanov-pass", name="Иванов И.")
    admin.create_user("petrova", "petrova-pass", name="Петрова А.")
    admin.create_group(GROUP, ["ivanov", "petrova"])
    tour.say("ivanov (Иванов И.), petrova (Петрова А.)")

    tour.step("Accounting picks a device from the list instead of typing a PIN")
    for device in accounting.devices():
        tour.say(f"PIN {device['pin']}  {device['name']}  {device['model']}  {device['mode']}")

    tour.step(f"Accounting pushes a supplier order to PIN {one.pin} (purchase-receipt)")
    pushed = accounting.push("purchase-receipt", [SUPPLIER_ORDER], target={"pin": one.pin})
    tour.say(_pushed(pushed))
    again = accounting.push("purchase-receipt", [SUPPLIER_ORDER], target={"pin": one.pin})
    tour.say(f"pushed again unchanged: {again['documents'][0]['status']}, no duplicate")

    tour.step(f"Accounting pushes a customer order to the group «{GROUP}» (order-picking)")
    tour.say(
        _pushed(accounting.push("order-picking", [CUSTOMER_ORDER], target={"groups": [GROUP]}))
    )

    tour.step(f"Terminal {one.name}: inbox, claim, scan, complete")
    (item,) = first.poll_inbox().documents
    tour.say(f"inbox: {item['number']} ({item['terminal_document_type']}), {item['state']}")
    first.claim(item["id"])
    tour.say("claimed; scanned: 6 loose, a box of 3 with serial SN-42, 2.125 kg of cheese")
    done = first.complete(
        item["id"],
        [
            {"line_id": "1", "qty": 6},
            {"line_id": "1", "qty": 3, "serial": "SN-42"},
            {"line_id": "2", "qty": Decimal("2.125")},
        ],
        header={"comment": "2 коробки повреждены"},
    )
    tour.say(f"completed: result {done['result_id']}")

    tour.step(f"Terminal {two.name}: Петрова logs in, claims the group's order, loses the network")
    operator, session = second.login("petrova", "petrova-pass")
    keep(operator)
    tour.say(f"logged in: {session['user']['name']}")
    (picking,) = operator.inbox()
    token = operator.claim(picking["id"])
    tour.say(f"claimed {picking['number']}; the network goes down (the relay is unreachable)")
    offline = keep(
        TerminalClient(
            f"http://127.0.0.1:{free_port()}",
            operator.token,
            retry=RetryPolicy(attempts=2, backoff=0.1),
        )
    )
    store = keep(CompletionStore(root / "terminal-2-outbox.sqlite3"))
    saf = StoreAndForward(offline, store)
    lines = [{"line_id": "1", "qty": 4}, {"line_id": "2", "qty": 6}]
    delivery = saf.complete(picking["id"], lines, claim_token=token)
    tour.say(f"completed offline: {'queued' if delivery.queued else 'sent'}; "
             f"{store.count()} completion waiting in the terminal's SQLite queue")  # fmt: skip
    offline.base_url = relay.url
    report = saf.sync()
    tour.say(f"network back, sync: {len(report.sent)} uploaded, {store.count()} waiting")

    tour.step("Accounting pulls the results (from the start of the feed, every poll)")
    results = list(accounting.results())
    for result in results:
        who = result["completed_by"]
        tour.say(
            f"{result['external_id']} → «{result['result_document_type']}», by "
            f"{who['login'] or 'PIN ' + who['pin']} on {who['device_name']}"
        )
        for line in result["lines"]:
            actual = " + ".join(
                str(a["qty"]) + (f" ({a['serial']})" if "serial" in a else "")
                for a in line["actual"]
            )
            tour.say(
                f"  line {line['line_id']} {line.get('name', '')}: declared "
                f"{line['declared_qty']}, actual {line['actual_qty']} = {actual or '0'}"
            )

    tour.step("Accounting loads them, then acknowledges them")
    acked = accounting.ack([r["id"] for r in results])
    tour.say(f"acknowledged {len(acked.processed)}; the feed now holds "
             f"{len(list(accounting.results()))} results")  # fmt: skip
    document = accounting.document(results[0]["document_id"])
    kinds = " → ".join(e["kind"] for e in document["timeline"])
    tour.say(f"{document['external_id']}: {document['state']}; timeline: {kinds}")


def _pushed(answer: dict[str, Any]) -> str:
    document = answer["documents"][0]
    addressees = [a for i in document["instances"] for a in i["addressees"]]
    to = ", ".join(
        f"PIN {a['pin']}"
        if a["type"] == "device"
        else f"{a['type']} {a.get('name') or a.get('login')}"
        for a in addressees
    )
    return f"{document['external_id']}: {document['status']}, {document['state']} → {to}"


def main() -> None:
    try:
        run()
    except KeyboardInterrupt:
        print("\nInterrupted: the relay was stopped.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
