"""The `relay` command: database, tenants, enrollment codes, server, worker, rule files."""

import json
import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo
from flask_migrate.cli import db as db_commands

from relay import logs
from relay.api.enrollment.schemas import EnrollmentCodeOut
from relay.app import create_app, load_config
from relay.config import ConfigError
from relay.db import transaction
from relay.directory import console, devices, tenants
from relay.errors import RelayError
from relay.maintenance import backup, retention
from relay.processes import files, store
from relay.serve import (
    MULTIPROC_ENV,
    SERVERS,
    choose_server,
    gunicorn_options,
    prepare_metrics_dir,
    serve_waitress,
)
from relay.timeutil import iso, utcnow


def _load_env_file(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        import dotenv

        dotenv.load_dotenv(value, override=False)


class RelayGroup(AppGroup):
    """The relay's commands only: no Flask development commands (run, shell, routes).

    Commands run in an app context built by ``create_app`` (as Flask's own group does), but the
    app is built only when a command needs it, so ``--help`` works with a broken configuration.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=create_app, set_debug_flag=False, load_dotenv_defaults=False
            )
        return super().make_context(info_name, args, parent=parent, **extra)


@click.group(cls=RelayGroup)
@click.version_option(package_name="relay", prog_name="relay", message="%(prog)s %(version)s")
@click.option(
    "-e",
    "--env-file",
    type=click.Path(exists=True, dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_load_env_file,
    help="Read RELAY_* variables from this file (KEY=value lines); the environment wins.",
)
def cli() -> None:
    """Relay: documents between accounting and warehouse terminals.

    Configuration comes from RELAY_* environment variables (see config/relay.env.example).
    """


cli.add_command(db_commands, "db")


def main() -> None:
    """Run the `relay` command; a bad RELAY_* value ends it with one sentence, no traceback."""
    try:
        cli(prog_name="relay")
    except ConfigError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


def _fail(err: RelayError) -> None:
    click.echo(f"error: {err.message}", err=True)
    sys.exit(1)


_TTL = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """Parse '24h', '30m', '7d' or plain seconds."""
    match = _TTL.match(text.strip().lower())
    if not match:
        raise click.BadParameter("use a number with s, m, h or d, e.g. 24h")
    return int(match.group(1)) * _UNITS[match.group(2)]


@cli.group()
def tenant() -> None:
    """Tenants: one accounting base each."""


@tenant.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tenant_create(name: str, as_json: bool) -> None:
    """Create a tenant with the shipped business processes; print its keys (shown once)."""
    try:
        with transaction():
            created = tenants.create(name)
    except RelayError as err:
        _fail(err)
        return
    if as_json:
        click.echo(
            json.dumps(
                {
                    "tenant": created.tenant.name,
                    "admin_key": created.admin_key,
                    "accounting_key": created.accounting_key,
                }
            )
        )
    else:
        click.echo(f"tenant:         {created.tenant.name}")
        click.echo(f"admin key:      {created.admin_key}")
        click.echo(f"accounting key: {created.accounting_key}")
        click.echo("Keep the keys now: they are stored only as hashes.")


@tenant.command("rotate-key")
@click.argument("name")
@click.argument("kind", type=click.Choice(["admin", "accounting"]))
def tenant_rotate_key(name: str, kind: str) -> None:
    """Revoke a tenant's admin or accounting key and print a new one."""
    try:
        with transaction():
            key = tenants.rotate_key(tenants.by_name(name).id, kind)  # type: ignore[arg-type]
    except RelayError as err:
        _fail(err)
        return
    click.echo(key)


@cli.group()
def enrollment() -> None:
    """Enrollment codes for terminals."""


@enrollment.command("create")
@click.option("--tenant", "tenant_name", required=True, help="Tenant name.")
@click.option("--uses", default=None, type=int, help="Terminals that may use it (default 1).")
@click.option(
    "--ttl",
    default=None,
    help="Lifetime: 30m, 24h, 7d (default RELAY_ENROLLMENT_CODE_TTL_SECONDS, 24h).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--qr/--no-qr", default=True, help="Draw the QR code in the terminal.")
def enrollment_create(
    tenant_name: str, uses: int | None, ttl: str | None, as_json: bool, qr: bool
) -> None:
    """Create an enrollment code and show it as text and as a QR code."""
    ttl_seconds = (
        parse_ttl(ttl)
        if ttl is not None
        else int(current_app.config["ENROLLMENT_CODE_TTL_SECONDS"])
    )
    try:
        with transaction():
            code, row = devices.create_enrollment_code(
                tenants.by_name(tenant_name).id,
                uses=uses if uses is not None else current_app.config["ENROLLMENT_CODE_USES"],
                ttl_seconds=ttl_seconds,
            )
    except RelayError as err:
        _fail(err)
        return
    public_url = current_app.config["PUBLIC_URL"]
    payload = devices.qr_payload(code, public_url)
    warning = (
        devices.loopback_warning(public_url)
        if public_url
        else "RELAY_PUBLIC_URL is not set: the QR code carries no address, so each terminal "
        "must be told the relay's address by hand."
    )
    if as_json:
        # The API's answer, less the SVG (a terminal scans the QR code from the admin's screen).
        shown = EnrollmentCodeOut(exclude=("qr_svg",))
        click.echo(
            json.dumps(
                shown.dump({"code": code, "row": row, "qr_payload": payload, "warning": warning})
            )
        )
        return
    click.echo(f"code:       {code}")
    click.echo(f"expires at: {iso(row.expires_at)}")
    click.echo(f"uses left:  {row.uses_left}")
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if qr:
        import segno

        segno.make(payload, error="m").terminal(compact=True)


@cli.command("serve", with_appcontext=False)
@click.option("--bind", default=None, help="host:port (default RELAY_BIND or 127.0.0.1:8000).")
@click.option(
    "--workers", default=None, type=int, help="gunicorn sync workers (default: one per core)."
)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default=None,
    help="gunicorn, waitress, or auto: gunicorn where it runs, else waitress (RELAY_SERVER).",
)
@click.option("--threads", default=8, show_default=True, help="waitress threads.")
def serve(bind: str | None, workers: int | None, server: str | None, threads: int) -> None:
    """Serve the relay with gunicorn, or with waitress where gunicorn cannot run (Windows)."""
    config = load_config()
    options = gunicorn_options(config)
    if bind:
        options["bind"] = bind
    if workers:
        options["workers"] = workers
    chosen = choose_server(server or config["SERVER"])
    if chosen == "waitress":
        logs.configure(config["LOG_LEVEL"], config["LOG_FORMAT"])
        serve_waitress(options["bind"], threads)
        return
    from relay.gunicorn_app import RelayServer

    prepare_metrics_dir()
    RelayServer(options).run()


@cli.command("worker", with_appcontext=False)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (tests, cron).")
@click.option("--id", "worker_id", default=None, help="Name in the outbox (default host:pid).")
def worker(once: bool, worker_id: str | None) -> None:
    """Deliver webhooks from the outbox and expire claims, until SIGTERM or SIGINT.

    On PostgreSQL run as many as you like, on any hosts; on SQLite run one. A stop signal
    lets the delivery in hand finish, then the worker exits 0.
    """
    # The worker's metrics live in its own process (RELAY_WORKER_METRICS_BIND), never in the
    # web workers' multiprocess folder, which `relay serve` empties when it starts.
    os.environ.pop(MULTIPROC_ENV, None)
    from relay.worker import Worker

    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    with app.app_context():
        runner = Worker(app, worker_id)
        runner.install_signal_handlers()
        runner.run(once=once)


@cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Copy the database to FILE while the relay serves (SQLite online backup, or pg_dump)."""
    try:
        click.echo(backup.backup(current_app.config["SQLALCHEMY_DATABASE_URI"], file))
    except backup.BackupError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)


@cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a database that holds data or is open.")
def restore_command(file: Path, force: bool) -> None:
    """Replace the database with the backup FILE (then run `relay db upgrade`)."""
    try:
        click.echo(backup.restore(current_app.config["SQLALCHEMY_DATABASE_URI"], file, force=force))
    except backup.BackupError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)


@cli.command("purge")
@click.option(
    "--processed-older-than",
    "age",
    required=True,
    help="Remove documents whose work ended this long ago: 90d, 12h, or seconds.",
)
@click.option(
    "--batch-size",
    default=retention.BATCH_SIZE,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Documents removed per transaction.",
)
def purge_command(age: str, batch_size: int) -> None:
    """Remove processed documents with their instances, events, results and outbox rows."""
    seconds = parse_ttl(age)
    counts = retention.purge(utcnow() - timedelta(seconds=seconds), batch_size=batch_size)
    for table in retention.TABLES:
        click.echo(f"{table + ':':21}{counts[table]}")


@cli.group("bp")
def bp() -> None:
    """Business processes as YAML files: export, import, check."""


@bp.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tenant", "tenant_name", required=True, help="Tenant name.")
def bp_export(directory: Path, tenant_name: str) -> None:
    """Write the tenant's current business processes to DIRECTORY, one <key>.yaml each."""
    try:
        tenant_id = tenants.by_name(tenant_name).id
    except RelayError as err:
        _fail(err)
        return
    directory.mkdir(parents=True, exist_ok=True)
    for row in store.list_current(tenant_id):
        path = directory / f"{row.key}.yaml"
        path.write_text(
            f"# {row.key}, version {row.version}, exported from tenant {tenant_name}\n"
            + files.to_yaml(row.definition),
            encoding="utf-8",
        )
        click.echo(f"{path}  (version {row.version})")


@bp.command("import")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--tenant", "tenant_name", required=True, help="Tenant name.")
def bp_import(directory: Path, tenant_name: str) -> None:
    """Validate every <key>.yaml in DIRECTORY and store each changed one as a new version.

    Nothing is stored unless every file is valid. Processes not in DIRECTORY are left alone;
    a next_business_process may name one of them.
    """
    try:
        definitions = files.load_directory(directory, complete_chains=False)
        with transaction():
            outcome = store.import_definitions(tenants.by_name(tenant_name).id, definitions)
    except files.ProcessFileError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    except RelayError as err:
        _fail(err)
        return
    for key, what in outcome.items():
        click.echo(f"{key}: {what}")


@bp.command("check", with_appcontext=False)
@click.argument(
    "directory", required=False, type=click.Path(file_okay=False, exists=True, path_type=Path)
)
def bp_check(directory: Path | None) -> None:
    """Validate business-process files without a database (default: the shipped ones)."""
    directory = directory or files.shipped_directory()
    try:
        definitions = files.load_directory(directory)
    except files.ProcessFileError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    click.echo(
        f"{len(definitions)} business processes in {directory} are valid: "
        + ", ".join(sorted(definitions))
    )


@cli.group("webhook")
def webhook_group() -> None:
    """Webhook endpoints: secrets sealed with RELAY_SECRET_KEY."""


@webhook_group.command("reseal")
def webhook_reseal() -> None:
    """Seal every webhook secret under the current RELAY_SECRET_KEY.

    After changing RELAY_SECRET_KEY with the old value in RELAY_SECRET_KEY_FALLBACKS, run this
    once; then the old value can be dropped from the fallbacks.
    """
    from relay.online import send, webhook
    from relay.online.sealing import SealError

    keys = send.Settings.from_config(current_app.config).keys
    try:
        with transaction():
            count = webhook.reseal_all(keys)
    except SealError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    click.echo(f"Resealed the webhook secrets of {count} tenant(s) under the current key.")


@cli.group()
def admin() -> None:
    """Admin-console accounts."""


@admin.command("create")
@click.option("--tenant", "tenant_name", required=True, help="Tenant name.")
@click.option("--name", default="", help="The person's name, shown in the console.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
@click.argument("login")
def admin_create(tenant_name: str, name: str, password_stdin: bool, login: str) -> None:
    """Create a console account; open /admin/ and sign in with it."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with transaction():
            account = console.create_account(
                tenants.by_name(tenant_name).id,
                login=login,
                name=name,
                password=password,
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
    except RelayError as err:
        _fail(err)
        return
    click.echo(f"console account {account.login!r} created for tenant {tenant_name!r}")
    click.echo("Open /admin/ on the relay and sign in with it.")
