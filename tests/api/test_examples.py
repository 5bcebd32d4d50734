"""Every operation of the OpenAPI document shows an example of its body and of its success
answer, and every example is valid against the schema beside it."""

import copy
from typing import Any

import jsonschema_rs
import pytest
import simplejson

from relay.api.examples import EXAMPLES
from tests.helpers import Client, TenantKeys, Terminal

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec(app: Any) -> dict[str, Any]:
    # Parsed as plain JSON: the relay's own parser would read 1e-06 as a Decimal.
    with app.test_client() as client:
        return dict(simplejson.loads(client.get("/api/v1/openapi.json").data))


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def successes(operation: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(code, a) for code, a in operation["responses"].items() if code.startswith("2")]


def json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema draft 4: `nullable` becomes a "null" type."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: json_schema(v) for k, v in schema.items() if k not in ("nullable", "example")}
    if schema.get("nullable") and "type" in schema:
        out["type"] = [schema["type"], "null"]
    if schema.get("nullable") and "enum" in schema and None not in schema["enum"]:
        out["enum"] = [*schema["enum"], None]
    return out


def examples_of(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for method, path, operation in operations(spec):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            found.append((f"{method} {path} request", body["schema"], body.get("example")))
        for status, answer in successes(operation):
            content = answer.get("content", {}).get("application/json")
            if content:
                found.append(
                    (f"{method} {path} {status}", content["schema"], content.get("example"))
                )
    callback = spec["paths"]["/api/v1/admin/webhook"]["put"]["callbacks"]["result"]
    delivery = callback["{$request.body#/url}"]["post"]["requestBody"]["content"]
    for kind, shown in delivery["application/json"]["examples"].items():
        found.append((f"webhook {kind}", delivery["application/json"]["schema"], shown["value"]))
    return found


def test_every_operation_has_an_example_of_its_body_and_its_answer(spec: dict[str, Any]) -> None:
    assert len(operations(spec)) > 60
    missing = []
    for method, path, operation in operations(spec):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and "example" not in body:
            missing.append(f"{method} {path}: request")
        answers = successes(operation)
        assert answers, (method, path)
        for status, answer in answers:
            content = answer.get("content", {}).get("application/json")
            if status == "204":
                assert content is None, (method, path)
            elif content is None or "example" not in content:
                missing.append(f"{method} {path}: {status}")
    assert missing == []


def test_every_example_is_valid_against_its_schema(spec: dict[str, Any]) -> None:
    components = json_schema(spec["components"])
    wrong = {}
    for name, schema, example in examples_of(spec):
        validator = jsonschema_rs.Draft4Validator({**json_schema(schema), "components": components})
        errors = [f"{e.instance_path}: {e.message}"[:200] for e in validator.iter_errors(example)]
        if errors:
            wrong[name] = errors[:3]
    assert wrong == {}


def test_a_wrong_example_is_caught(spec: dict[str, Any]) -> None:
    """The validation above can fail: a quantity with seven decimals is not a quantity."""
    push = spec["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]["application/json"]
    example = simplejson.loads(simplejson.dumps(push["example"]))
    example["documents"][0]["lines"][0]["declared_qty"] = 0.0000001
    validator = jsonschema_rs.Draft4Validator(
        {**json_schema(push["schema"]), "components": json_schema(spec["components"])}
    )
    assert not validator.is_valid(example)


def test_the_callback_shows_each_kind_of_delivery(api: Client) -> None:
    spec = simplejson.loads(api.get("/api/v1/openapi.json").data)
    callback = spec["paths"]["/api/v1/admin/webhook"]["put"]["callbacks"]["result"]
    delivery = callback["{$request.body#/url}"]["post"]
    examples = delivery["requestBody"]["content"]["application/json"]["examples"]
    assert {e["value"]["type"] for e in examples.values()} == {"result.completed", "ping"}
    for header in delivery["parameters"]:
        assert "example" in header, header["name"]


def example(method: str, path: str, key: str = "request") -> Any:
    return copy.deepcopy(EXAMPLES[(method, path)][key])


def fields(value: Any, path: str = "") -> set[str]:
    """The field names of an answer, nested, as paths (a list's first item stands for all)."""
    if isinstance(value, dict):
        return {path + name for name in value} | {
            found for name, item in value.items() for found in fields(item, f"{path}{name}.")
        }
    if isinstance(value, list) and value:
        return fields(value[0], f"{path}0.")
    return set()


class Relay:
    """Sends an operation's request example (with ids and tokens of this tenant put in) and
    checks the answer: the success status, and the example answer's fields exactly."""

    def __init__(self, api: Client) -> None:
        self.api = api
        self.unlike: dict[str, Any] = {}

    def send(
        self, method: str, path: str, token: str | None, body: Any = None, **params: str
    ) -> dict[str, Any]:
        examples = EXAMPLES[(method, path)]
        if body is None and "request" in examples:
            body = example(method, path)
        response = self.api.call(method.upper(), path.format(**params), token, json=body)
        status = next(key for key in examples if key != "request")  # the first answer shown
        assert str(response.status_code) == status, (method, path, response.json)
        answer = dict(response.json or {})
        sent, shown = fields(answer), fields(examples[status])
        if sent != shown:
            self.unlike[f"{method} {path}"] = {
                "only the relay's": sorted(sent - shown),
                "only the example's": sorted(shown - sent),
            }
        return answer


def test_the_request_examples_are_accepted_by_a_relay(api: Client, tenant: TenantKeys) -> None:
    """Each request example, sent as it is but for this tenant's ids, tokens and PINs."""
    relay = Relay(api)
    admin, accounting = tenant.admin_key, tenant.accounting_key
    codes = "/api/v1/admin/enrollment-codes"
    code = relay.send("post", codes, admin)["code"]
    enroll = {**example("post", "/api/v1/terminal/enroll"), "code": code}
    device = relay.send("post", "/api/v1/terminal/enroll", None, enroll)
    token = device["token"]
    relay.send("post", "/api/v1/admin/users", admin)
    api.user(tenant, "petrov")
    relay.send("post", "/api/v1/admin/groups", admin)
    relay.send("patch", "/api/v1/admin/groups/{name}", admin, name="Общая")
    relay.send("patch", "/api/v1/admin/users/{login}", admin, login="ivanov")
    relay.send("post", "/api/v1/terminal/sessions", token)

    # Appendix A's completion brings undeclared goods: a receipt without quantity control.
    quantity = {"quantity_control": "none"}
    api.patch("/api/v1/admin/business-processes/purchase-receipt", admin, quantity)
    push = example("post", "/api/v1/documents")
    push["target"] = {"pin": device["pin"]}
    pushed = relay.send("post", "/api/v1/documents", accounting, push)["documents"][0]
    instance = pushed["instances"][0]["id"]
    terminal = "/api/v1/terminal/documents/{instance_id}"
    claim = relay.send("post", terminal + "/claim", token, instance_id=instance)
    complete = {**example("post", terminal + "/complete"), "claim_token": claim["claim_token"]}
    done = relay.send("post", terminal + "/complete", token, complete, instance_id=instance)
    relay.send("post", "/api/v1/results/ack", accounting, {"ids": [done["result_id"]]})

    other = api.enroll(tenant, name="Склад-2")
    push["documents"][0]["external_id"] = "ЗаказПоставщику-0000-000124"
    second = relay.send("post", "/api/v1/documents", accounting, push)["documents"][0]
    reroute = {"target": {"pin": other.pin}}
    relay.send(
        "post", "/api/v1/documents/{document_id}/reroute", accounting, reroute,
        document_id=second["id"],
    )  # fmt: skip
    relay.send(
        "post", "/api/v1/documents/{document_id}/cancel", accounting, document_id=second["id"]
    )
    push["documents"][0]["external_id"] = "ЗаказПоставщику-0000-000125"
    third = relay.send("post", "/api/v1/documents", accounting, push)["documents"][0]
    claim = api.claim(
        Terminal(device["device_id"], device["pin"], token), third["instances"][0]["id"]
    )
    batch = example("post", "/api/v1/terminal/completions")
    batch["completions"][0].update(
        id=third["instances"][0]["id"], claim_token=claim.json["claim_token"]
    )
    answered = relay.send("post", "/api/v1/terminal/completions", token, batch)
    assert answered["results"][0]["status"] == 200, answered

    processes = "/api/v1/admin/business-processes/{key}"
    patched = relay.send("patch", processes, admin, key="purchase-receipt")
    put = {**example("put", processes), "version": patched["version"]}
    relay.send("put", processes, admin, put, key="purchase-receipt")
    relay.send("patch", "/api/v1/admin/devices/{device_id}", admin, device_id=other.device_id)

    for name in ("products", "warehouses", "cells", "stock", "prices"):
        relay.send("put", f"/api/v1/catalogs/{name}/items", accounting)
    relay.send("put", "/api/v1/catalogs/{name}/items", accounting, name="return-reasons")
    relay.send("post", "/api/v1/catalogs/{name}/delete", accounting, name="products")
    upload = relay.send("post", "/api/v1/catalogs/{name}/uploads", accounting, name="prices")
    packets = "/api/v1/catalogs/prices/uploads/{upload_id}/packets/{number}"
    relay.send("put", packets, accounting, upload_id=upload["id"], number="1")
    one = api.post(
        "/api/v1/catalogs/warehouses/uploads", accounting, {"mode": "merge", "packets": 1}
    ).json
    relay.send(
        "put", "/api/v1/catalogs/warehouses/uploads/{upload_id}/packets/{number}", accounting,
        upload_id=one["id"], number="1",
    )  # fmt: skip
    relay.send(
        "post", "/api/v1/catalogs/{name}/uploads/{upload_id}/commit", accounting,
        name="warehouses", upload_id=one["id"],
    )  # fmt: skip
    assert relay.unlike == {}, simplejson.dumps(relay.unlike, indent=1, ensure_ascii=False)
