"""Property-based fuzzing from the OpenAPI document: no input, however malformed, gives a 500.

Schemathesis generates requests for every operation (valid and invalid bodies, query strings
and path parameters) and each is sent with a credential of the role the endpoint wants.
"""

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.helpers import Client, TenantKeys, Terminal, doc


@pytest.fixture
def credentials(api: Client, tenant: TenantKeys) -> dict[str, str]:
    """A tenant with a device, an operator session and a document, so requests go deep."""
    terminal: Terminal = api.enroll(tenant)
    api.user(tenant, "ivanov")
    session = api.login(terminal, "ivanov")
    api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    return {
        "admin": tenant.admin_key,
        "accounting": tenant.accounting_key,
        "device": terminal.token,
        "session": session.bearer,
    }


def token_for(path: str, credentials: dict[str, str]) -> str | None:
    if path.endswith("/terminal/enroll"):
        return None
    if path.startswith("/api/v1/terminal/sessions/current"):
        return credentials["session"]
    if path.startswith("/api/v1/terminal/"):
        return credentials["device"]
    if path.startswith("/api/v1/admin/"):
        return credentials["admin"]
    return credentials["accounting"]


def test_no_input_gives_a_server_error(app: Flask, credentials: dict[str, str]) -> None:
    # The operations are driven by hand rather than with schemathesis' pytest plugin, whose
    # lazy-fixture loader does not work with this pytest.
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30

    strategies = [
        operation.as_strategy(generation_mode=mode)
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    for strategy in strategies:

        @given(case=strategy)
        @settings(
            max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case: Any) -> None:
            token = token_for(case.path, credentials)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            no_server_error()
        except Unsatisfiable:
            # An operation with nothing to get wrong (no parameters, no body) has no
            # negative cases.
            continue


def test_every_operation_lists_its_error_answers(api: Client) -> None:
    spec = api.get("/api/v1/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            answers = set(operation["responses"])
            assert "503" in answers, (method, path)
            if operation.get("security") != []:
                assert {"401", "403"} <= answers, (method, path)
            if "{" in path:
                assert "404" in answers, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= answers, (method, path)
    assert "429" in spec["paths"]["/api/v1/terminal/enroll"]["post"]["responses"]
    # A body that requires nothing is not marked required.
    claim = spec["paths"]["/api/v1/terminal/documents/{instance_id}/claim"]["post"]
    assert claim["requestBody"]["required"] is False
    assert spec["paths"]["/api/v1/documents"]["post"]["requestBody"]["required"] is True


def test_the_webhook_deliveries_are_described(api: Client) -> None:
    spec = api.get("/api/v1/openapi.json").json
    callback = spec["paths"]["/api/v1/admin/webhook"]["put"]["callbacks"]["result"]
    delivery = callback["{$request.body#/url}"]["post"]
    assert {p["name"] for p in delivery["parameters"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    event = delivery["requestBody"]["content"]["application/json"]["schema"]
    assert event["properties"]["type"]["enum"] == ["result.completed", "ping"]
    assert {"$ref": "#/components/schemas/ResultOut"} in event["properties"]["data"]["oneOf"]
    result = spec["components"]["schemas"]["ResultOut"]["properties"]
    assert "chain" in result
