"""`relay-terminal`: a terminal on the command line, to try the relay before writing any BSL.

It keeps its state in one directory (``--home``, default ``~/.relay-terminal``):
``terminal.json`` (server, device token, PIN, operator session), ``claims.json`` (claimed
documents with their claim tokens and declared lines, so scans can be recorded and documents
completed without the network), ``scans/<id>.jsonl`` (scans recorded so far) and
``outbox.sqlite3`` (completions waiting for the network: store-and-forward) and
``catalogs.sqlite3`` (the local copy of the catalogs, with the version of each).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from relay.client import jsonio
from relay.client.cli import NO_ANSWER, REFUSED, Failed, Group, describe, echo_json, table
from relay.client.errors import Conflict
from relay.client.http import RetryPolicy
from relay.client.scans import IDENTIFYING, ScanError, bind, normalize, read_scans
from relay.client.store import CatalogStore, CompletionStore, StoreAndForward, sync_catalogs
from relay.client.terminal import TerminalClient

# A terminal on a flaky network: a short round of retries, then store-and-forward takes over.
TERMINAL_RETRY = RetryPolicy(attempts=3, backoff=0.5, max_backoff=2.0)


class Home:
    """The terminal's state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()
        self.config_path = self.path / "terminal.json"
        self.claims_path = self.path / "claims.json"
        self.scans_dir = self.path / "scans"
        self.outbox_path = self.path / "outbox.sqlite3"
        self.catalogs_path = self.path / "catalogs.sqlite3"

    # -- files -----------------------------------------------------------------------------

    def _read(self, path: Path) -> dict[str, Any]:
        if not path.exists():
            return {}
        data: dict[str, Any] = jsonio.loads(path.read_text(encoding="utf-8"))
        return data

    def _write(self, path: Path, data: Mapping[str, Any]) -> None:
        # The device token is a secret: the files are the owner's only, written atomically.
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(jsonio.dumps(dict(data), indent=2))
        temp.replace(path)

    @property
    def config(self) -> dict[str, Any]:
        return self._read(self.config_path)

    def save_config(self, config: Mapping[str, Any]) -> None:
        self._write(self.config_path, config)

    @property
    def claims(self) -> dict[str, dict[str, Any]]:
        return self._read(self.claims_path)

    def save_claims(self, claims: Mapping[str, Any]) -> None:
        self._write(self.claims_path, claims)

    def enrolled(self) -> dict[str, Any]:
        config = self.config
        if not config.get("token"):
            raise Failed(f"This terminal is not enrolled yet ({self.path}): run `enroll` first.")
        return config

    def scans_file(self, instance_id: str) -> Path:
        return self.scans_dir / f"{instance_id}.jsonl"

    def scans(self, instance_id: str) -> list[dict[str, Any]]:
        path = self.scans_file(instance_id)
        if not path.exists():
            return []
        return [
            jsonio.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line
        ]

    def add_scans(self, instance_id: str, scans: Sequence[Mapping[str, Any]]) -> None:
        self.scans_dir.mkdir(parents=True, exist_ok=True)
        with self.scans_file(instance_id).open("a", encoding="utf-8") as out:
            for scan in scans:
                out.write(jsonio.dumps(dict(scan)) + "\n")

    # -- clients ---------------------------------------------------------------------------

    @contextmanager
    def client(self) -> Iterator[TerminalClient]:
        """A client with the operator's session if one is logged in, else the device token."""
        config = self.enrolled()
        token = config.get("session_token") or config["token"]
        with TerminalClient(config["server"], token, retry=TERMINAL_RETRY) as client:
            client.claims = {k: v["claim_token"] for k, v in self.claims.items()}
            yield client

    @contextmanager
    def store(self) -> Iterator[CompletionStore]:
        with CompletionStore(self.outbox_path) as store:
            yield store

    @contextmanager
    def catalogs(self) -> Iterator[CatalogStore]:
        with CatalogStore(self.catalogs_path) as store:
            yield store


pass_home = click.make_pass_decorator(Home)


@click.group(cls=Group)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("~/.relay-terminal"),
    envvar="RELAY_TERMINAL_HOME",
    show_default=True,
    help="Where this terminal keeps its token, claims, scans and offline queue.",
)
@click.pass_context
def cli(ctx: click.Context, home: Path) -> None:
    """A relay terminal on the command line: enroll, inbox, claim, scan, complete, sync."""
    ctx.obj = Home(home)


def main() -> None:
    cli(prog_name="relay-terminal")


# -- enrollment and sessions -------------------------------------------------------------------


@cli.command()
@click.argument("code")
@click.option("--server", envvar="RELAY_SERVER", help="The relay's address, e.g. http://host:8000.")
@click.option("--name", default=None, help="The terminal's name (default: relay-terminal@host).")
@click.option("--model", default="relay-terminal", show_default=True)
@click.option(
    "--serial", default="", help="The serial number (re-enrolling with it keeps the PIN)."
)
@click.option("--force", is_flag=True, help="Enroll again even if this home is enrolled.")
@pass_home
def enroll(
    home: Home,
    code: str,
    server: str | None,
    name: str | None,
    model: str,
    serial: str,
    force: bool,
) -> None:
    """Enroll with CODE (the text of an enrollment code, or its QR code's JSON)."""
    if home.config.get("token") and not force:
        raise Failed(
            f"This home is already enrolled as PIN {home.config['pin']}; pass --force to "
            "enroll again, or use another --home."
        )
    if code.lstrip().startswith("{"):
        payload = json.loads(code)
        code, server = payload["code"], server or payload.get("relay")
    if not server:
        raise Failed("Say which relay to enroll with: --server http://host:8000.")
    name = name or f"relay-terminal@{socket.gethostname()}"
    client, enrolled = TerminalClient.enroll(
        server, code, name=name, model=model, serial=serial, retry=TERMINAL_RETRY
    )
    client.close()
    home.save_config(
        {
            "server": server.rstrip("/"),
            "device_id": enrolled.device_id,
            "pin": enrolled.pin,
            "token": enrolled.token,
            "name": enrolled.name,
            "mode": enrolled.mode,
        }
    )
    home.save_claims({})
    click.echo(f"Enrolled {enrolled.name!r} with {server} (device {enrolled.device_id}).")
    _show_pin(enrolled.pin)


def _show_pin(pin: str) -> None:
    click.echo(f"PIN: {pin}")
    click.echo("Accounting sends documents to this terminal by this PIN.")


@cli.command()
@pass_home
def pin(home: Home) -> None:
    """Show this terminal's PIN (and who is logged in)."""
    config = home.enrolled()
    click.echo(f"{config['name']} on {config['server']}")
    _show_pin(config["pin"])
    if config.get("login"):
        click.echo(f"Operator: {config['login']}")


@cli.command()
@click.argument("login")
@click.password_option(confirmation_prompt=False, help="The operator's password.")
@pass_home
def login(home: Home, login: str, password: str) -> None:
    """Log an operator in: the inbox then shows what is sent to them and their groups."""
    config = home.enrolled()
    with TerminalClient(config["server"], config["token"], retry=TERMINAL_RETRY) as device:
        operator, answer = device.login(login, password)
    home.save_config({**config, "session_token": operator.token, "login": login})
    user = answer["user"]
    click.echo(f"Logged in: {user['login']} ({user.get('name') or user['login']}).")


@cli.command()
@pass_home
def logout(home: Home) -> None:
    """Log the operator out."""
    config = home.enrolled()
    if config.get("session_token"):
        with home.client() as client:
            client.logout()
    config.pop("session_token", None)
    config.pop("login", None)
    home.save_config(config)
    click.echo("Logged out.")


# -- documents ---------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the relay's JSON.")
@pass_home
def inbox(home: Home, as_json: bool) -> None:
    """List the documents waiting for this terminal (and its operator)."""
    with home.client() as client:
        documents = client.inbox()
    if as_json:
        echo_json(documents)
        return
    if not documents:
        click.echo("The inbox is empty.")
        return
    table(
        [
            (
                d["number"] or d["external_id"],
                d["business_process"],
                d["state"] + (" (mine)" if d.get("claimed_by_me") else ""),
                "collective" if d.get("collective") else "",
                d["id"],
            )
            for d in documents
        ],
        ["number", "process", "state", "", "id"],
    )


def _resolve(home: Home, ref: str, client: TerminalClient | None = None) -> str:
    """An instance id from an id, its start, a document number or an external id."""
    candidates = [
        {"id": k, "number": v.get("number"), "external_id": v.get("external_id")}
        for k, v in home.claims.items()
    ]
    found = _match(candidates, ref)
    if found is None and client is not None:
        found = _match(client.inbox(), ref)
    if found is None:
        raise Failed(f"No document {ref!r} here: see `inbox` for the ids and numbers.")
    return found


def _match(documents: Sequence[Mapping[str, Any]], ref: str) -> str | None:
    exact = [d["id"] for d in documents if ref in (d["id"], d.get("number"), d.get("external_id"))]
    if len(exact) == 1:
        return str(exact[0])
    prefix = [d["id"] for d in documents if str(d["id"]).startswith(ref)]
    if len(prefix) == 1 and not exact:
        return str(prefix[0])
    if len(exact) + len(prefix) > 1:
        raise Failed(f"{ref!r} names several documents; give more of the id.")
    return None


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the relay's JSON.")
@pass_home
def show(home: Home, ref: str, as_json: bool) -> None:
    """Show a document: header and declared lines (REF: id, its start, or number)."""
    with home.client() as client:
        document = client.document(_resolve(home, ref, client))
    if as_json:
        echo_json(document)
        return
    click.echo(f"{document['number'] or document['external_id']}  {document['business_process']}")
    click.echo(f"state: {document['state']}  id: {document['id']}")
    for key, value in document.get("header", {}).items():
        click.echo(f"  {key}: {value}")
    _print_lines(document.get("lines", []), home.scans(document["id"]))


def _print_lines(declared: Sequence[Mapping[str, Any]], scans: Sequence[Mapping[str, Any]]) -> None:
    scanned: dict[str, Decimal] = {}
    extra: list[Mapping[str, Any]] = []
    for line in bind(declared, scans):
        if "line_id" in line:
            scanned[line["line_id"]] = scanned.get(line["line_id"], Decimal(0)) + line["qty"]
        else:
            extra.append(line)
    table(
        [
            (
                line["line_id"],
                line.get("barcode") or line.get("product_id") or "",
                line.get("name", ""),
                line.get("declared_qty", ""),
                scanned.get(str(line["line_id"]), ""),
            )
            for line in declared
        ]
        + [
            ("—", e.get("barcode") or e.get("product_id"), "(not declared)", "", e["qty"])
            for e in extra
        ],
        ["line", "barcode/product", "name", "declared", "scanned"],
    )


@cli.command()
@click.argument("ref")
@pass_home
def claim(home: Home, ref: str) -> None:
    """Claim a document (or join it, if several operators work it together)."""
    with home.client() as client:
        instance_id = _resolve(home, ref, client)
        try:
            client.claim(instance_id)
            how = "Claimed"
        except Conflict as err:
            if err.code != "collective_document":
                raise
            client.join(instance_id)
            how = "Joined (collective work)"
        document = client.document(instance_id)
    claims = home.claims
    claims[instance_id] = {
        "claim_token": client.claims[instance_id],
        "number": document["number"],
        "external_id": document["external_id"],
        "business_process": document["business_process"],
        "collective": document["collective"],
        "lines": document["lines"],
    }
    home.save_claims(claims)
    click.echo(f"{how} {document['number'] or document['external_id']} ({instance_id}).")
    _print_lines(document["lines"], home.scans(instance_id))


@cli.command()
@click.argument("ref")
@pass_home
def release(home: Home, ref: str) -> None:
    """Give a claimed document back (or dismiss one accounting cancelled)."""
    with home.client() as client:
        instance_id = _resolve(home, ref, client)
        answer = client.release(instance_id)
    _forget(home, instance_id)
    click.echo(f"Released: the document is {answer['state']}.")


def _forget(home: Home, instance_id: str) -> None:
    claims = home.claims
    claims.pop(instance_id, None)
    home.save_claims(claims)
    home.scans_file(instance_id).unlink(missing_ok=True)


def _claimed(home: Home, ref: str) -> tuple[str, dict[str, Any]]:
    claims = home.claims
    instance_id = _resolve(home, ref)
    return instance_id, claims[instance_id]


@cli.command()
@click.argument("ref")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV or JSON lines: barcode / product_id / line_id, qty, serial, lot, …",
)
@click.option("--clear", is_flag=True, help="Forget the scans recorded so far first.")
@pass_home
def scan(home: Home, ref: str, path: Path | None, clear: bool) -> None:
    """Record scans for a claimed document, from a file or typed at prompts (works offline)."""
    instance_id, entry = _claimed(home, ref)
    if clear:
        home.scans_file(instance_id).unlink(missing_ok=True)
        click.echo("Scans cleared.")
        if path is None:
            return
    try:
        scans = read_scans(path) if path else _prompt_scans(entry["lines"])
    except ScanError as err:
        raise Failed(str(err)) from err
    home.add_scans(instance_id, scans)
    click.echo(f"{len(scans)} scan(s) recorded.")
    _print_lines(entry["lines"], home.scans(instance_id))


def _prompt_scans(declared: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    click.echo("Scan or type a barcode, product id or line number; an empty line ends.")
    scans: list[dict[str, Any]] = []
    while True:
        code = click.prompt("barcode", default="", show_default=False).strip()
        if not code:
            return scans
        qty = click.prompt("qty", default="1")
        serial = click.prompt("serial (optional)", default="", show_default=False).strip()
        raw = {_identify(code, declared): code, "qty": qty}
        if serial:
            raw["serial"] = serial
        try:
            scans.append(normalize(raw))
        except ScanError as err:
            click.echo(f"  not recorded: {err}")


def _identify(code: str, declared: Sequence[Mapping[str, Any]]) -> str:
    """Which field a typed code is: a declared line's id, barcode or product id."""
    for field in IDENTIFYING:
        if any(str(line.get(field)) == code for line in declared):
            return field
    return "barcode" if code.isdigit() else "product_id"


def _headers(values: Sequence[str]) -> dict[str, str]:
    header = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise Failed(f"--header takes key=value, not {value!r}.")
        header[key] = text
    return header


@cli.command()
@click.argument("ref")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Scans to add before completing (CSV or JSON lines).",
)
@click.option("--comment", default=None, help="The header's comment.")
@click.option("--header", "header_values", multiple=True, help="A header field: key=value.")
@click.option(
    "--close/--no-close",
    default=True,
    help="Collective work: --no-close submits this part and leaves the document open.",
)
@pass_home
def complete(
    home: Home,
    ref: str,
    path: Path | None,
    comment: str | None,
    header_values: Sequence[str],
    close: bool,
) -> None:
    """Complete a claimed document with the recorded scans (queued if the network is down)."""
    instance_id, entry = _claimed(home, ref)
    try:
        if path:
            home.add_scans(instance_id, read_scans(path))
    except ScanError as err:
        raise Failed(str(err)) from err
    header = _headers(header_values)
    if comment is not None:
        header["comment"] = comment
    lines = bind(entry["lines"], home.scans(instance_id))
    with home.client() as client, home.store() as store:
        delivery = StoreAndForward(client, store).complete(
            instance_id, lines, header=header, close=close, claim_token=entry["claim_token"]
        )
    if close:
        _forget(home, instance_id)
    else:
        # The part's token stays: closing later sends it again with no lines.
        home.scans_file(instance_id).unlink(missing_ok=True)
    number = entry.get("number") or entry.get("external_id")
    if delivery.answer is None:
        click.echo(
            f"{number}: no network. The completion is saved on this terminal and will be "
            "uploaded by `relay-terminal sync`."
        )
        return
    answer = delivery.answer
    if answer["state"] == "completed":
        click.echo(
            f"{number}: completed, result {answer.get('result_id') or answer['result_ids']}."
        )
    else:
        click.echo(f"{number}: your part is submitted; the document stays open for the others.")


@cli.command()
@pass_home
def sync(home: Home) -> None:
    """Upload the completions saved while the network was down."""
    with home.client() as client, home.store() as store:
        report = StoreAndForward(client, store).sync()
        left = store.count()
    for completion, answer in report.sent:
        click.echo(f"uploaded {completion.instance_id}: {answer['state']}")
    for completion, error in report.failed:
        click.echo(f"refused  {completion.instance_id}: {describe(error)}")
    if report.offline:
        click.echo(f"No network: {left} completion(s) stay queued.")
    elif left:
        click.echo(f"{left} completion(s) stay queued (the relay asked to retry later).")
    if not (report.sent or report.failed or left):
        click.echo("Nothing to upload.")
    if report.failed:
        raise SystemExit(REFUSED)
    if left:
        raise SystemExit(NO_ANSWER)


@cli.command()
@click.option("--discard-failed", is_flag=True, help="Forget the refused completions.")
@pass_home
def queue(home: Home, discard_failed: bool) -> None:
    """Show completions waiting for the network, and those the relay refused."""
    with home.store() as store:
        pending, failed = store.pending(), store.failed()
        if discard_failed:
            store.discard_failed()
    click.echo(f"{len(pending)} waiting to upload, {len(failed)} refused.")
    for queued in pending:
        click.echo(
            f"  waiting  {queued.completion.instance_id}  since {queued.queued_at}, "
            f"{queued.attempts} attempt(s): {queued.last_error or '-'}"
        )
    for item in failed:
        click.echo(
            f"  refused  {item.completion.instance_id}  {item.failed_at}: {item.message} "
            f"[{item.status} {item.code}]"
        )
    if discard_failed and failed:
        click.echo(f"Discarded {len(failed)} refused completion(s).")


# -- catalogs ----------------------------------------------------------------------------------


@cli.group()
def catalog() -> None:
    """The local copy of the catalogs (products, cells, stock, prices), synced by version."""


@catalog.command("sync")
@click.argument("names", nargs=-1)
@pass_home
def catalog_sync(home: Home, names: Sequence[str]) -> None:
    """Fetch what changed in the catalogs (all, or NAMES) since the versions held here."""
    with home.client() as client, home.catalogs() as store:
        synced = sync_catalogs(client, store, names)
    if not synced:
        click.echo("The relay has no catalogs yet.")
    for done in synced:
        if done.version == done.since and not done.full:
            click.echo(f"{done.name}: up to date at version {done.version} ({done.items} items).")
        elif done.full:
            click.echo(f"{done.name}: loaded in full, version {done.version} ({done.items} items).")
        else:
            click.echo(
                f"{done.name}: version {done.since} → {done.version}: {done.changed} changed, "
                f"{done.deleted} deleted ({done.items} items)."
            )


@catalog.command("list")
@pass_home
def catalog_list(home: Home) -> None:
    """List the catalogs held here with their versions (no network needed)."""
    with home.catalogs() as store:
        held = store.catalogs()
    if not held:
        click.echo("No catalogs yet: run `catalog sync`.")
        return
    table(held, ["catalog", "version", "items", "synced at"])


@catalog.command("lookup")
@click.argument("barcode")
@click.option("--online", is_flag=True, help="Ask the relay instead of the local copy.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@pass_home
def catalog_lookup(home: Home, barcode: str, online: bool, as_json: bool) -> None:
    """Show what BARCODE names: a product (with the packaging's factor) or a cell."""
    if online:
        with home.client() as client:
            found = client.barcode(barcode)
    else:
        with home.catalogs() as store:
            found = store.lookup(barcode)
    if found is None:
        raise Failed(f"Barcode {barcode} is in no catalog{'' if online else ' held here'}.")
    if as_json:
        echo_json(found)
        return
    item = found["item"]
    if found["type"] == "product":
        click.echo(f"{item['id']}: {item.get('name')} × {found['factor']} {found['unit'] or ''}")
    else:
        click.echo(f"cell {item['id']}: {item.get('name')}")
