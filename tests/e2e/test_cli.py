"""relay-terminal and relay-accounting against a real relay, as a 1C integrator would try them."""

import json
from pathlib import Path

from click.testing import CliRunner, Result

from relay.client import AdminClient
from relay.client.cli.accounting import cli as accounting_cli
from relay.client.cli.terminal import cli as terminal_cli
from tests.e2e.conftest import LiveTenant
from tests.e2e.proxy import CuttingProxy
from tests.helpers import doc


class Tools:
    def __init__(self, tmp_path: Path, tenant: LiveTenant) -> None:
        self.home = tmp_path / "terminal"
        self.runner = CliRunner(
            env={
                "RELAY_SERVER": tenant.url,
                "RELAY_ACCOUNTING_KEY": tenant.accounting_key,
                "RELAY_TERMINAL_HOME": str(self.home),
            }
        )

    def terminal(self, *args: str, input: str | None = None, code: int = 0) -> Result:
        result = self.runner.invoke(terminal_cli, list(args), input=input)
        assert result.exit_code == code, result.output
        return result

    def accounting(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(accounting_cli, list(args))
        assert result.exit_code == code, result.output
        return result


def test_a_receipt_end_to_end_with_the_two_tools(
    tmp_path: Path, live_tenant: LiveTenant, admin: AdminClient, proxy: CuttingProxy
) -> None:
    tools = Tools(tmp_path, live_tenant)
    code = admin.create_enrollment_code()["code"]
    enrolled = tools.terminal("enroll", code, "--server", proxy.url, "--name", "Склад-1")
    pin = json.loads((tools.home / "terminal.json").read_text())["pin"]
    assert f"PIN: {pin}" in enrolled.output
    assert f"PIN: {pin}" in tools.terminal("pin").output
    tools.terminal("enroll", code, code=1)  # already enrolled
    assert pin in tools.accounting("devices").output
    assert json.loads(tools.accounting("devices", "--json").output)[0]["pin"] == pin

    push = tmp_path / "push.json"
    orders = [doc("ЗаказПоставщику-0000-000123"), doc("ЗаказПоставщику-0000-000124")]
    push.write_text(
        json.dumps({"business_process": "purchase-receipt", "documents": orders}),
        encoding="utf-8",
    )
    pushed = tools.accounting("push", str(push), "--pin", pin)
    assert f"ЗаказПоставщику-0000-000123: created, queued → PIN {pin}" in pushed.output
    assert "000124" in tools.terminal("inbox").output

    # The first order: scans from a file and typed at the prompts, then complete.
    claimed = tools.terminal("claim", "000123")
    assert "Молоко 1 л" in claimed.output
    scans = tmp_path / "scans.csv"
    scans.write_text("barcode,qty,serial\n4601234567890,6,\n4601234567890,3,SN-42\n")
    tools.terminal("scan", "000123", "--file", str(scans))
    typed = tools.terminal("scan", "000123", input="4601234567891\n5\n\n2\n1\nSN-7\n\n")
    assert "2 scan(s) recorded." in typed.output
    shown = tools.terminal("show", "000123")
    assert "Кефир 0,5 л" in shown.output
    refused = tools.terminal("complete", "000123", code=1)
    assert "quantity_control" in refused.output  # line 2: 6 scanned, 5 declared
    assert "problem=excess" in refused.output
    tools.terminal("scan", "000123", "--clear", "--file", str(scans))
    tools.terminal("complete", "000123", "--comment", "2 коробки", "--header", "x=y", code=1)
    done = tools.terminal("complete", "000123", "--comment", "2 коробки")
    assert "completed, result" in done.output

    # The second order: claimed online, completed while the network is down, synced later.
    tools.terminal("claim", "000124")
    proxy.stop()
    queued = tools.terminal("complete", "000124", input=None)
    assert "no network" in queued.output
    assert "1 waiting to upload" in tools.terminal("queue").output
    assert "No network: 1 completion(s) stay queued." in tools.terminal("sync", code=2).output
    assert tools.terminal("inbox", code=2).output.startswith("error: No answer from the relay")
    proxy.start()
    assert "uploaded" in tools.terminal("sync").output
    assert "Nothing to upload." in tools.terminal("sync").output

    out = tmp_path / "results"
    pulled = tools.accounting("results", "pull", "--out", str(out))
    assert "2 result(s) pulled." in pulled.output
    files = sorted(out.glob("*.json"))
    assert [f.name.split("__")[0] for f in files] == [
        "ЗаказПоставщику-0000-000123",
        "ЗаказПоставщику-0000-000124",
    ]
    first = json.loads(files[0].read_text(encoding="utf-8"))
    assert first["header"] == {"comment": "2 коробки"}
    assert first["lines"][0]["actual"] == [{"qty": 6}, {"qty": 3, "serial": "SN-42"}]
    document_id = first["document_id"]
    assert "completed" in tools.accounting("document", document_id).output
    assert tools.accounting("ack", "--all-pulled", "--out", str(out)).output.startswith(
        "2 acknowledged"
    )
    assert len(list((out / "acked").glob("*.json"))) == 2
    again = tools.accounting("ack", first["id"])
    assert "0 acknowledged, 1 already were." in again.output
    assert "No results waiting." in tools.accounting("results", "pull", "--out", str(out)).output


def test_operators_groups_and_refusals(
    tmp_path: Path, live_tenant: LiveTenant, admin: AdminClient
) -> None:
    tools = Tools(tmp_path, live_tenant)
    admin.create_user("petrova", "secret-2", name="Петрова А.")
    admin.create_group("Кладовщики", ["petrova"])
    qr = admin.create_enrollment_code()["qr_payload"]
    tools.terminal("enroll", qr)  # the QR code's JSON carries the server's address
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"business_process": "order-picking", "documents": [doc()]}))
    tools.accounting("push", str(push), "--group", "Кладовщики", "--user", "petrova")
    assert "The inbox is empty." in tools.terminal("inbox").output
    login = tools.terminal("login", "petrova", "--password", "secret-2")
    assert "Logged in: petrova (Петрова А.)." in login.output
    assert "Operator: petrova" in tools.terminal("pin").output
    inbox = json.loads(tools.terminal("inbox", "--json").output)
    assert len(inbox) == 1
    assert json.loads(tools.terminal("show", inbox[0]["id"][:30], "--json").output)["lines"]
    tools.terminal("claim", inbox[0]["id"])
    assert "Released: the document is queued." in tools.terminal("release", "000123").output
    tools.terminal("logout")
    tools.terminal("login", "petrova", "--password", "wrong", code=1)
    assert "The inbox is empty." in tools.terminal("inbox").output

    refused = tools.accounting("push", str(push), "--pin", "99999", code=1)
    assert "Device not found by PIN 99999." in refused.output
    assert "device_not_found" in refused.output
    tools.accounting("push", str(push), "--pin", "1", "--all", code=1)
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    tools.accounting("push", str(bad), code=1)
    bad.write_text("{")
    tools.accounting("push", str(bad), code=1)
    tools.accounting("ack", code=1)
    tools.terminal("claim", "nothing-like-it", code=1)
    tools.runner.env["RELAY_ACCOUNTING_KEY"] = ""
    assert "No accounting key" in tools.accounting("devices", code=1).output


def test_a_terminal_not_enrolled_says_so(tmp_path: Path, live_tenant: LiveTenant) -> None:
    tools = Tools(tmp_path, live_tenant)
    assert "not enrolled yet" in tools.terminal("inbox", code=1).output
    tools.runner.env["RELAY_SERVER"] = None  # type: ignore[index]
    assert "Say which relay" in tools.terminal("enroll", "ENR", code=1).output
    tools.runner.env["RELAY_SERVER"] = live_tenant.url
    wrong = tools.terminal("enroll", "ENR-NOT-A-CODE", code=1)
    assert "invalid_enrollment_code" in wrong.output
