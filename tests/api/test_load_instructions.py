"""Load instructions travel with every result; write_after_load is decided per device mode."""

from typing import Any

import pytest

from tests.helpers import (
    Client,
    TenantKeys,
    Terminal,
    doc,
    join,
    operator,
    patch_process,
    results,
    stock_lines,
)

SHIPPED = {
    "purchase-receipt": (
        "Приобретение товаров и услуг",
        False,
        {"create_new_document": True, "post_after_load": False, "write_after_load": "online_only"},
    ),
    "order-picking": (
        "Расходный ордер на товары",
        False,
        {"create_new_document": True, "post_after_load": False, "write_after_load": "always"},
    ),
    "price-check": (
        "Установка цен номенклатуры",
        False,
        {"create_new_document": True, "post_after_load": False, "write_after_load": "never"},
    ),
    "stock-count": (
        "Пересчёт товаров",
        True,
        {"create_new_document": False, "post_after_load": False, "write_after_load": "always"},
    ),
    "transfer-shipment": (
        "Перемещение товаров",
        True,
        {"create_new_document": False, "post_after_load": False, "write_after_load": "always"},
    ),
    "transfer-receipt": (
        "Перемещение товаров",
        True,
        {"create_new_document": False, "post_after_load": True, "write_after_load": "always"},
    ),
}
WRITE = {"always": True, "never": False}


def work(api: Client, tenant: TenantKeys, process: str, terminal: Terminal, ext: str) -> str:
    """Push one document of ``process`` to the terminal's operator and complete it."""
    target = {"pin": terminal.pin} if process == "purchase-receipt" else {"users": ["ivanov"]}
    pushed = api.push(tenant, process, [doc(ext, lines=stock_lines())], target=target)
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    lines = [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 6}]
    if process == "stock-count":
        join(api, terminal, instance_id)
        done = api.complete(terminal, instance_id, lines, close=True)
    else:
        api.claim(terminal, instance_id)
        done = api.complete(terminal, instance_id, lines)
    return str(done.json["result_ids"][0] if process == "stock-count" else done.json["result_id"])


@pytest.mark.parametrize("mode", ["offline", "online"])
@pytest.mark.parametrize("process", sorted(SHIPPED))
def test_every_result_carries_its_load_instructions(
    api: Client, tenant: TenantKeys, process: str, mode: str
) -> None:
    api.user(tenant, "ivanov")
    terminal = api.login(api.enroll(tenant, mode=mode), "ivanov")
    result_id = work(api, tenant, process, terminal, "ДОК-1")
    result_type, into_source, on_load = SHIPPED[process]
    expected_write = WRITE.get(on_load["write_after_load"], mode == "online")
    by_id = api.get(f"/api/v1/results/{result_id}", tenant.accounting_key)
    assert by_id.status_code == 200
    for result in (*results(api, tenant)[:1], by_id.json):
        assert result["id"] == result_id
        assert result["business_process"] == process
        assert result["result_document_type"] == result_type
        assert result["load_into_source_document"] is into_source
        assert result["on_load"] == {**on_load, "write": expected_write}
        assert result["completed_by"]["mode"] == mode


def test_online_only_follows_the_completing_device(api: Client, tenant: TenantKeys) -> None:
    online = api.enroll(tenant, name="Онлайн", mode="online")
    offline = api.enroll(tenant, name="Офлайн")
    writes: dict[str, Any] = {}
    for terminal, ext in ((online, "ЗП-1"), (offline, "ЗП-2")):
        pushed = api.push(tenant, "purchase-receipt", [doc(ext)], target={"pin": terminal.pin})
        instance_id = pushed.json["documents"][0]["instances"][0]["id"]
        api.claim(terminal, instance_id)
        api.complete(terminal, instance_id, [{"line_id": "1", "qty": 1}])
    writes = {r["external_id"]: r["on_load"]["write"] for r in results(api, tenant)}
    assert writes == {"ЗП-1": True, "ЗП-2": False}

    # The mode is the one the device had when it completed: switching later changes nothing.
    for terminal, mode in ((online, "offline"), (offline, "online")):
        r = api.patch(
            f"/api/v1/admin/devices/{terminal.device_id}", tenant.admin_key, {"mode": mode}
        )
        assert r.status_code == 200
        assert r.json["mode"] == mode
    again = {r["external_id"]: r["on_load"]["write"] for r in results(api, tenant)}
    assert again == writes


def test_the_mode_switch_applies_to_the_next_completion(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    for ext in ("ЗП-1", "ЗП-2"):
        api.push(tenant, "purchase-receipt", [doc(ext)], target={"pin": terminal.pin})
    first, second = (d["id"] for d in api.inbox(terminal))
    api.claim(terminal, first)
    api.claim(terminal, second)
    api.complete(terminal, first, [{"line_id": "1", "qty": 1}])
    api.patch(f"/api/v1/admin/devices/{terminal.device_id}", tenant.admin_key, {"mode": "online"})
    # The claim was taken while offline; the completion is what counts.
    api.complete(terminal, second, [{"line_id": "1", "qty": 1}])
    writes = {r["external_id"]: r["on_load"]["write"] for r in results(api, tenant)}
    assert writes == {"ЗП-1": False, "ЗП-2": True}


def test_collective_close_decides_by_the_closing_device(api: Client, tenant: TenantKeys) -> None:
    patch_process(api, tenant, "stock-count", {"on_load": {"write_after_load": "online_only"}})
    a = operator(api, tenant, "ivanov")
    api.user(tenant, "petrov")
    b = api.login(api.enroll(tenant, name="ТСД petrov", mode="online"), "petrov")
    pushed = api.push(
        tenant, "stock-count", [doc("ПТ-1", lines=stock_lines())], {"users": ["ivanov", "petrov"]}
    )
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    join(api, a, instance_id)
    join(api, b, instance_id)
    api.complete(b, instance_id, [{"line_id": "1", "qty": 1}], close=False)
    # The offline device closes: the result is written by its mode, not by the online part's.
    api.complete(a, instance_id, [{"line_id": "1", "qty": 1}], close=True)
    (result,) = results(api, tenant)
    assert result["on_load"]["write_after_load"] == "online_only"
    assert result["on_load"]["write"] is False
    assert result["completed_by"]["login"] == "ivanov"


def test_per_part_results_each_carry_the_instructions(api: Client, tenant: TenantKeys) -> None:
    patch_process(api, tenant, "stock-count", {"keep_merged_document": False})
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    pushed = api.push(
        tenant, "stock-count", [doc("ПТ-1", lines=stock_lines())], {"users": ["ivanov", "petrov"]}
    )
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    join(api, a, instance_id)
    join(api, b, instance_id)
    api.complete(a, instance_id, [{"line_id": "1", "qty": 1}], close=False)
    api.complete(b, instance_id, [{"line_id": "1", "qty": 1}], close=True)
    feed = results(api, tenant)
    assert len(feed) == 2
    for result in feed:
        assert result["result_document_type"] == "Пересчёт товаров"
        assert result["load_into_source_document"] is True
        assert result["on_load"] == {
            "create_new_document": False,
            "post_after_load": False,
            "write_after_load": "always",
            "write": True,
        }


def test_results_keep_the_instructions_of_the_version_pushed_under(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    api.push(tenant, "purchase-receipt", [doc("ЗП-1")], target={"pin": terminal.pin})
    patch_process(
        api,
        tenant,
        "purchase-receipt",
        {
            "result_document_type": "Поступление товаров",
            "load_into_source_document": True,
            "on_load": {"post_after_load": True, "write_after_load": "always"},
        },
    )
    api.push(tenant, "purchase-receipt", [doc("ЗП-2")], target={"pin": terminal.pin})
    for item in api.inbox(terminal):
        api.claim(terminal, item["id"])
        api.complete(terminal, item["id"], [{"line_id": "1", "qty": 1}])
    by_ext = {r["external_id"]: r for r in results(api, tenant)}
    old, new = by_ext["ЗП-1"], by_ext["ЗП-2"]
    assert (old["business_process_version"], new["business_process_version"]) == (1, 2)
    assert old["result_document_type"] == "Приобретение товаров и услуг"
    assert old["load_into_source_document"] is False
    assert old["on_load"] == {
        "create_new_document": True,
        "post_after_load": False,
        "write_after_load": "online_only",
        "write": False,
    }
    assert new["result_document_type"] == "Поступление товаров"
    assert new["load_into_source_document"] is True
    # PATCH merged on_load one level deep: create_new_document was kept.
    assert new["on_load"] == {
        "create_new_document": True,
        "post_after_load": True,
        "write_after_load": "always",
        "write": True,
    }


def test_on_load_is_validated_when_saved(api: Client, tenant: TenantKeys) -> None:
    refused = patch_process(
        api, tenant, "purchase-receipt", {"on_load": {"write_after_load": "sometimes"}}, 422
    )
    assert "on_load" in refused.json["error"]["details"]["fields"]
    refused = patch_process(api, tenant, "purchase-receipt", {"on_load": {"write": True}}, 422)
    assert "on_load" in refused.json["error"]["details"]["fields"]
