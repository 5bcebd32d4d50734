"""The whole cycle of the README walk-through, through the test client."""

from tests.helpers import Client, TenantKeys, doc


def test_push_claim_complete_pull_ack(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    pushed = api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    instance = pushed.json["documents"][0]["instances"][0]
    assert instance["addressee"]["pin"] == terminal.pin
    assert [d["id"] for d in api.inbox(terminal)] == [instance["id"]]
    api.claim(terminal, instance["id"])
    done = api.complete(
        terminal,
        instance["id"],
        [
            {"line_id": "1", "qty": 6},
            {"line_id": "1", "qty": 3, "serial": "SN-42"},
            {"line_id": "2", "qty": 5},
        ],
        header={"comment": "2 boxes damaged"},
    )
    result_id = done.json["result_id"]
    feed = api.get("/api/v1/results", tenant.accounting_key).json
    assert [r["id"] for r in feed["results"]] == [result_id]
    line = feed["results"][0]["lines"][0]
    assert line["actual_qty"] == 9
    assert line["actual"] == [{"qty": 6}, {"qty": 3, "serial": "SN-42"}]
    ack = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [result_id]})
    assert ack.json == {"processed": [result_id], "already_processed": []}
    assert api.get("/api/v1/results", tenant.accounting_key).json["results"] == []
