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
from schemathesis.specs.openapi.checks import positive_data_acceptance

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


# Rules that hold on the data's meaning or on the tenant's state, which a schema cannot say:
# a positive case the server refuses with one of these codes was well formed but broke a rule.
RULES = frozenset(
    {
        "unknown_user",
        "unknown_assignee",
        "empty_group",
        "target_required",
        "target_not_allowed",
        "invalid_webhook_url",
        "webhook_url_not_allowed",
        "webhook_url_unresolvable",
        "business_process_disabled",
        "duplicate_external_id",
        "duplicate_line_id",
        "process_chain_loop",
        "idempotency_key_reused",
        "quantity_control",
        "unknown_line",
        "field_not_allowed",
        # A process body's key must be the address's key: a body schema cannot see the path.
        "key_mismatch",
        # updated_at sent back must be the stored one; next_business_process must name a
        # process the tenant has; a PATCH's fields must agree with the stored ones they join.
        "read_only_changed",
        "unknown_business_process",
        "process_fields_disagree",
        # Ids are unique within one batch of catalog items: uniqueItems compares whole items.
        "duplicate_ids",
        # A cursor must be one this catalog gave out for this `since`; `since` must be a
        # version the catalog still has the deletions of (410).
        "invalid_cursor",
        "resync_required",
    }
)
# The known catalogs are listed at paths of their own (a concrete path is matched before a
# templated one), so `{name}` of the templated item paths says "not one of them"; the server
# serves both at one route, so a "negative" case naming one there is a valid request.
KNOWN_CATALOGS = frozenset({"products", "warehouses", "cells", "stock", "prices"})


def fit_what_openapi_3_0_cannot_say(case: Any) -> None:
    """Make a positive case keep the two bounds an OpenAPI 3.0 schema has no keyword for.

    Header field names are 1 to 64 characters (3.0 has no propertyNames), and a product lists
    a barcode once (uniqueItems compares whole packagings, not their barcodes). Everything
    else a positive case holds is left as generated.
    """
    body = case.body
    if not isinstance(body, dict):
        return
    holders = [body, *(d for k in ("documents", "completions") for d in body.get(k) or [])]
    for holder in holders:
        header = holder.get("header") if isinstance(holder, dict) else None
        if isinstance(header, dict):
            for name in [n for n in header if not 1 <= len(n) <= 64]:
                del header[name]
    if case.path.startswith("/api/v1/catalogs/products/"):
        for item in body.get("items") or []:
            packagings = item.get("barcodes") if isinstance(item, dict) else None
            if isinstance(packagings, list):
                seen: set[Any] = set()
                item["barcodes"] = [
                    p for p in packagings if not (p["barcode"] in seen or seen.add(p["barcode"]))
                ]


@schemathesis.check
def positive_data_accepted_or_refused_by_a_rule(ctx: Any, response: Any, case: Any) -> None:
    """Schemathesis' positive_data_acceptance, where a 422 naming a business rule is an answer."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    status = response.status_code
    if status < 400 or status in (401, 403, 404, 409, 429) or status >= 500:
        return
    code = (response.json() or {}).get("error", {}).get("code") if status in (410, 422) else None
    if code in RULES:
        return
    raise AssertionError(
        f"Schema-valid data refused with {status} {code or ''}: {response.text[:300]}"
    )


def test_the_server_matches_its_openapi_document(app: Flask, credentials: dict[str, str]) -> None:
    """Every schemathesis check, on every operation, positive and negative cases.

    Generated text holds no NUL character and no unpaired surrogate: the relay refuses both
    with 400 malformed_json whatever the field (no database stores them; README, Decisions).
    """
    # The operations are driven by hand rather than with schemathesis' pytest plugin, whose
    # lazy-fixture loader does not work with this pytest.
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # The credential is the test's to send (each operation gets its role's token), so the
    # Authorization header is not one schemathesis varies.
    api_schema.config.generation.update(
        allow_x00=False, codec="utf-8", with_security_parameters=False
    )
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
        def matches(case: Any) -> None:
            token = token_for(case.path, credentials)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if case.meta is not None and case.meta.generation.mode.is_positive:
                fit_what_openapi_3_0_cannot_say(case)
            elif (
                case.path.startswith("/api/v1/catalogs/{name}")
                and (case.path_parameters or {}).get("name") in KNOWN_CATALOGS
            ):
                return
            case.call_and_validate(
                headers=headers,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[positive_data_accepted_or_refused_by_a_rule],
            )

        try:
            matches()
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


def test_appendix_a_payloads_are_the_examples(api: Client) -> None:
    paths = api.get("/api/v1/openapi.json").json["paths"]
    push = paths["/api/v1/documents"]["post"]
    example = push["requestBody"]["content"]["application/json"]["example"]
    assert example["target"] == {"pin": "5546"}
    assert example["documents"][0]["lines"][0]["declared_qty"] == 10
    created = push["responses"]["201"]["content"]["application/json"]["example"]
    assert created["documents"][0]["status"] == "created"
    feed = paths["/api/v1/results"]["get"]["responses"]["200"]["content"]["application/json"]
    assert feed["example"]["results"][0]["lines"][0]["actual_qty"] == 9
    for path, method in (
        ("/api/v1/results/ack", "post"),
        ("/api/v1/terminal/enroll", "post"),
        ("/api/v1/terminal/sessions", "post"),
        ("/api/v1/terminal/documents/{instance_id}/complete", "post"),
        ("/api/v1/admin/enrollment-codes", "post"),
    ):
        assert "example" in paths[path][method]["requestBody"]["content"]["application/json"]
