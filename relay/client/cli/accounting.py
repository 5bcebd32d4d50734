"""`relay-accounting`: the accounting side on the command line, what 1C will do in BSL.

Push a JSON file, pick a device, pull results into files (one per result, as 1C would load
them), and acknowledge them once loaded; push catalogs (products, cells, stock, prices) from a
JSON or CSV file.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from relay.client import jsonio
from relay.client.accounting import PACKET_SIZE, AccountingClient
from relay.client.catalogfiles import CatalogFileError, read_items
from relay.client.cli import Failed, Group, echo_json, table
from relay.client.errors import Conflict

PULLED = "acked"  # the subfolder acknowledged result files move to


class Settings:
    def __init__(self, server: str, key: str | None) -> None:
        self.server = server
        self.key = key

    @contextmanager
    def client(self) -> Iterator[AccountingClient]:
        if not self.key:
            raise Failed(
                "No accounting key: pass --key or set RELAY_ACCOUNTING_KEY "
                "(`relay tenant create` printed it)."
            )
        with AccountingClient(self.server, self.key) as client:
            yield client


pass_settings = click.make_pass_decorator(Settings)


@click.group(cls=Group)
@click.option(
    "--server",
    envvar="RELAY_SERVER",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The relay's address (RELAY_SERVER).",
)
@click.option(
    "--key", envvar="RELAY_ACCOUNTING_KEY", help="The accounting key (RELAY_ACCOUNTING_KEY)."
)
@click.pass_context
def cli(ctx: click.Context, server: str, key: str | None) -> None:
    """The accounting side of the relay: push documents, list devices, pull and ack results."""
    ctx.obj = Settings(server.rstrip("/"), key)


def main() -> None:
    cli(prog_name="relay-accounting")


def _target(
    pin: str | None,
    device_id: str | None,
    users: Sequence[str],
    groups: Sequence[str],
    everyone: bool,
) -> dict[str, Any] | None:
    chosen = [bool(pin), bool(device_id), bool(users or groups), everyone]
    if sum(chosen) > 1:
        raise Failed("Give one target: --pin, --device, --user/--group, or --all.")
    if pin:
        return {"pin": pin}
    if device_id:
        return {"device_id": device_id}
    if users or groups:
        return {k: list(v) for k, v in (("users", users), ("groups", groups)) if v}
    if everyone:
        return {"all": True}
    return None


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--pin", help="Send to the device with this PIN (instead of the file's target).")
@click.option("--device", "device_id", help="Send to this device id.")
@click.option("--user", "users", multiple=True, help="Send to this user (repeatable).")
@click.option("--group", "groups", multiple=True, help="Send to this group (repeatable).")
@click.option("--all", "everyone", is_flag=True, help="Send to every active user.")
@click.option("--json", "as_json", is_flag=True, help="Print the relay's JSON answer.")
@pass_settings
def push(
    settings: Settings,
    file: Path,
    pin: str | None,
    device_id: str | None,
    users: Sequence[str],
    groups: Sequence[str],
    everyone: bool,
    as_json: bool,
) -> None:
    """Push the documents in FILE (the push body: business_process, target, documents)."""
    try:
        body = jsonio.loads(file.read_text(encoding="utf-8-sig"))
    except ValueError as err:
        raise Failed(f"{file} is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise Failed(f"{file} must hold a JSON object: business_process, target, documents.")
    target = _target(pin, device_id, users, groups, everyone)
    if target is not None:
        body["target"] = target
    with settings.client() as client:
        answer = client.push_body(body)
    if as_json:
        echo_json(answer)
        return
    for document in answer["documents"]:
        to = ", ".join(_addressee(a) for i in document["instances"] for a in i["addressees"])
        click.echo(
            f"{document['external_id']}: {document['status']}, {document['state']} → {to} "
            f"(id {document['id']})"
        )


def _addressee(addressee: Mapping[str, Any]) -> str:
    kind = addressee.get("type")
    if kind == "device":
        return f"PIN {addressee.get('pin')}"
    if kind == "user":
        return f"user {addressee.get('login')}"
    if kind == "group":
        return f"group {addressee.get('name')}"
    return "everyone"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the relay's JSON.")
@pass_settings
def devices(settings: Settings, as_json: bool) -> None:
    """List the active devices with their PINs (the picker that saves typing a PIN)."""
    with settings.client() as client:
        found = client.devices()
    if as_json:
        echo_json(found)
        return
    table(
        [
            (d["pin"], d["name"], d["model"], d["mode"], d["last_seen_at"] or "never", d["id"])
            for d in found
        ],
        ["pin", "name", "model", "mode", "last seen", "id"],
    )


@cli.command()
@click.argument("document_id")
@click.option("--json", "as_json", is_flag=True, help="Print the relay's JSON.")
@pass_settings
def document(settings: Settings, document_id: str, as_json: bool) -> None:
    """Show a document's state and its timeline."""
    with settings.client() as client:
        found = client.document(document_id)
    if as_json:
        echo_json(found)
        return
    click.echo(f"{found['external_id']} ({found['business_process']}): {found['state']}")
    for event in found["timeline"]:
        click.echo(f"  {event['at']}  {event['kind']}  {event['actor']}")


@cli.group()
def results() -> None:
    """Results of completed documents."""


def result_filename(result: Mapping[str, Any]) -> str:
    """``<external_id>__<id>.json``, the external id made safe for any file system."""
    safe = re.sub(r"[^\w.-]+", "_", str(result.get("external_id") or "result")).strip("._")
    return f"{safe or 'result'}__{result['id']}.json"


@results.command("pull")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Folder to write one JSON file per result into.",
)
@pass_settings
def pull(settings: Settings, out: Path) -> None:
    """Write every result not yet acknowledged into OUT, one file each."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with settings.client() as client:
        for result in client.results():
            path = out / result_filename(result)
            path.write_text(jsonio.dumps(result, indent=2) + "\n", encoding="utf-8")
            who = result["completed_by"].get("login") or f"PIN {result['completed_by'].get('pin')}"
            click.echo(
                f"{result['external_id']}: {result['result_document_type']} by {who} → {path}"
            )
            count += 1
    if count:
        click.echo(f"{count} result(s) pulled. Load them into accounting, then acknowledge them:")
        click.echo(f"  relay-accounting ack --all-pulled --out {out}")
    else:
        click.echo("No results waiting.")


@cli.command()
@click.argument("ids", nargs=-1)
@click.option(
    "--all-pulled",
    is_flag=True,
    help="Acknowledge every result file in --out (then moved to acked/).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="The folder `results pull` wrote to.",
)
@pass_settings
def ack(settings: Settings, ids: Sequence[str], all_pulled: bool, out: Path) -> None:
    """Acknowledge results once loaded: they leave the feed (repeating it is harmless)."""
    files: dict[str, Path] = {}
    if all_pulled:
        for path in sorted(out.glob("*.json")):
            files[str(jsonio.loads(path.read_text(encoding="utf-8"))["id"])] = path
    wanted = [*ids, *files]
    if not wanted:
        raise Failed("Nothing to acknowledge: give result ids, or --all-pulled.")
    with settings.client() as client:
        acked = client.ack(wanted)
    if files:
        (out / PULLED).mkdir(exist_ok=True)
        for path in files.values():
            path.replace(out / PULLED / path.name)
    click.echo(f"{len(acked.processed)} acknowledged, {len(acked.already_processed)} already were.")


@cli.group()
def catalog() -> None:
    """Catalogs for terminals: products with barcodes, warehouses, cells, stock, prices."""


@catalog.command("push")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--mirror",
    is_flag=True,
    help="Make the catalog exactly FILE: items not in it are deleted (asks first when many).",
)
@click.option(
    "--packet-size",
    type=click.IntRange(min=1),
    default=PACKET_SIZE,
    show_default=True,
    help="Items per packet (the relay's limit is 5000 unless configured otherwise).",
)
@click.option("--yes", is_flag=True, help="Confirm the deletions of a mirror without asking.")
@click.option("--json", "as_json", is_flag=True, help="Print the relay's JSON answer.")
@pass_settings
def catalog_push(
    settings: Settings,
    name: str,
    file: Path,
    mirror: bool,
    packet_size: int,
    yes: bool,
    as_json: bool,
) -> None:
    """Send catalog NAME from FILE (JSON or CSV) in packets, applied at once as one version."""
    try:
        items = read_items(file, name)
    except CatalogFileError as err:
        raise Failed(str(err)) from err
    with settings.client() as client:
        with click.progressbar(
            length=len(items), label=f"Uploading {name}", file=sys.stderr
        ) as bar:
            upload_id = client.upload_catalog(
                name,
                items,
                mirror=mirror,
                packet_size=packet_size,
                on_packet=lambda _number, count: bar.update(count),
            )
        try:
            answer = client.commit_upload(name, upload_id)
        except Conflict as err:
            if err.code != "deletions_need_confirmation":
                raise
            deletions = err.details.get("deletions")
            sample = ", ".join(map(str, err.details.get("sample") or []))
            click.echo(
                f"This mirror deletes {deletions} of the {err.details.get('items')} items of "
                f"{name} (e.g. {sample}).",
                err=True,
            )
            if not yes and not _confirmed("Delete them?"):
                raise Failed(
                    f"Nothing was changed. To apply it, run again with --yes (upload {upload_id} "
                    "expires unused)."
                ) from err
            answer = client.commit_upload(name, upload_id, confirm_deletions=True)
    if as_json:
        echo_json(answer)
        return
    click.echo(
        f"{name}: version {answer['version']}: {answer['upserted']} sent, "
        f"{answer['changed']} new or changed, {answer['deleted']} deleted."
    )


def _confirmed(question: str) -> bool:
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        return False


@catalog.command("show")
@click.argument("name")
@click.option(
    "--items",
    "limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="How many items to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the catalog and items as JSON.")
@pass_settings
def catalog_show(settings: Settings, name: str, limit: int, as_json: bool) -> None:
    """Show catalog NAME: its version, how many items it holds, and the first items."""
    with settings.client() as client:
        found = client.catalog(name)
        items: list[dict[str, Any]] = []
        for item in client.catalog_items(name, page_size=min(max(limit, 1), 1000)):
            if len(items) >= limit:
                break
            items.append(item)
    if as_json:
        echo_json({**found, "first_items": items})
        return
    click.echo(
        f"{found['name']}: version {found['version']}, {found['items']} items, "
        f"updated {found['updated_at']}"
    )
    if items:
        table(
            [(i["id"], i.get("name") or i.get("product_id") or "", _rest(i)) for i in items],
            ["id", "name", "fields"],
        )


def _rest(item: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in item.items() if k not in ("id", "name", "barcodes")}
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    codes = [b.get("barcode") for b in item.get("barcodes") or [] if isinstance(b, Mapping)]
    if codes:
        text = ", ".join(filter(None, [text, "barcodes=" + "|".join(map(str, codes))]))
    return text
