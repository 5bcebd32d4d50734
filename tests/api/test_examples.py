"""Every operation of the OpenAPI document shows an example of its body and of its success
answer, and every example is valid against the schema beside it."""

from typing import Any

import jsonschema_rs
import pytest
import simplejson

from tests.helpers import Client

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
