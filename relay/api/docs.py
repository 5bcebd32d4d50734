"""What the OpenAPI document says beyond each view's schemas: the errors every operation may
answer, which bodies are optional, the webhook the relay sends (SPEC §8, §11), and Appendix
A's payloads as examples.

Written once here from what the code does (the auth decorator, the JSON parser, the limits),
rather than repeated on every view.
"""

from typing import Any

from relay.api.base import Api

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RATE_LIMITED = ("/api/v1/terminal/enroll", "/api/v1/terminal/sessions")

# Standard Webhooks headers on every delivery (SPEC §8).
WEBHOOK_HEADERS = {
    "webhook-id": "The same on every attempt of one delivery (msg_…): deduplicate on it.",
    "webhook-timestamp": "Unix time of this attempt.",
    "webhook-signature": "v1,<base64 HMAC-SHA256 of id.timestamp.body> (two during a rotation).",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": ERROR}


def _errors_of(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The error answers an operation may give, from how the relay handles every request."""
    out: dict[str, Any] = {}
    has_body = "requestBody" in operation
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if has_body:
        out["400"] = _error(
            "`malformed_json`: the body is not JSON, or holds what no database stores."
        )
    if operation.get("security") != []:
        out["401"] = _error(
            "`unauthorized`: no credentials, or a mistyped, revoked or expired one."
        )
        out["403"] = _error("`forbidden`: a credential of another role.")
    if "{" in path:
        out["404"] = _error("Not found: no such object in this tenant, or not addressed to you.")
    if method != "get":
        out["409"] = _error("A state conflict; `code` says which (e.g. `claim_lost`).")
    if has_body:
        out["413"] = _error("`body_too_large`: the body is over RELAY_MAX_CONTENT_LENGTH.")
    if has_body or has_query or "{" in path:
        out["422"] = _error("Validation: field errors in `details.fields`, or a broken rule.")
    if path in RATE_LIMITED:
        out["429"] = {
            **_error("`rate_limited` or `login_locked`: too many failures; wait Retry-After."),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        }
    out["503"] = _error("`database_unavailable` or `busy`: nothing was applied; retry shortly.")
    return out


def _optional_bodies(spec_schemas: dict[str, Any], operation: dict[str, Any]) -> None:
    """A body whose schema requires nothing may be left out: say so."""
    body = operation.get("requestBody")
    if not body:
        return
    ref = body["content"].get("application/json", {}).get("schema", {}).get("$ref", "")
    schema = spec_schemas.get(ref.rsplit("/", 1)[-1]) if ref else None
    if isinstance(schema, dict) and not schema.get("required"):
        body["required"] = False


def _webhook_callback() -> dict[str, Any]:
    """The deliveries the relay POSTs to the tenant's webhook URL, as an OpenAPI callback."""
    headers = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"},
         "description": description}
        for name, description in WEBHOOK_HEADERS.items()
    ]  # fmt: skip
    event = {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "enum": ["result.completed", "ping"]},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {
                "description": "For result.completed: the result exactly as GET "
                "/api/v1/results/{id} shows it (with `chain`); for ping: {tenant}.",
                "oneOf": [
                    {"$ref": "#/components/schemas/ResultOut"},
                    {"type": "object", "properties": {"tenant": {"type": "string"}}},
                ],
            },
        },
    }
    body = {"required": True, "content": {"application/json": {"schema": event}}}
    return {
        "result": {
            "{$request.body#/url}": {
                "post": {
                    "summary": "A result of an online device, signed per Standard Webhooks.",
                    "description": "A 2xx marks the result processed. Other answers and "
                    "time-outs are retried with back-off (Retry-After honoured); 410 Gone "
                    "disables the endpoint.",
                    "parameters": headers,
                    "requestBody": body,
                    "responses": {
                        "2XX": {"description": "Received: the result is processed."},
                        "410": {"description": "Gone: the relay disables the endpoint."},
                    },
                }
            }
        }
    }  # fmt: skip


def complete_spec(api: Api) -> None:
    """Add the error answers, optional bodies and the webhook callback to the registered paths."""
    schemas = api.spec.components.schemas
    for path, operations in api.spec._paths.items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status, answer in _errors_of(path, method, operation).items():
                responses.setdefault(status, answer)
            _optional_bodies(schemas, operation)
    webhook = api.spec._paths.get("/api/v1/admin/webhook", {}).get("put")
    if webhook is not None:
        webhook["callbacks"] = _webhook_callback()
    _add_examples(api.spec._paths)


# Appendix A's payloads, shown on the operations they belong to.
_ORDER = {
    "external_id": "ЗаказПоставщику-0000-000123",
    "number": "0000-000123",
    "date": "2026-11-20",
    "header": {"warehouse": "Основной склад", "counterparty": "ООО Ромашка"},
    "lines": [
        {
            "line_id": "1",
            "product_id": "p-001",
            "name": "Молоко 1 л",
            "barcode": "4601234567890",
            "unit": "шт",
            "declared_qty": 10,
        }
    ],
}
_ID = "0190f2a1-7c3e-7d2a-9b1e-3f5a2c4d6e80"
_DEVICE = {"type": "device", "device_id": _ID, "pin": "5546", "name": "Склад-1"}
_RESULT = {
    "id": _ID,
    "document_id": _ID,
    "instance_id": _ID,
    "external_id": "ЗаказПоставщику-0000-000123",
    "business_process": "purchase-receipt",
    "business_process_version": 1,
    "result_document_type": "Приобретение товаров и услуг",
    "on_load": {
        "create_new_document": True,
        "post_after_load": False,
        "write_after_load": "online_only",
    },
    "completed_at": "2026-11-20T10:15:00.000Z",
    "completed_by": {"login": "ivanov", "device_id": _ID, "pin": "5546"},
    "header": {"comment": "2 boxes damaged"},
    "lines": [
        {
            "line_id": "1",
            "product_id": "p-001",
            "declared_qty": 10,
            "actual_qty": 9,
            "actual": [{"qty": 6}, {"qty": 3, "serial": "SN-42"}],
        }
    ],
    "undeclared": [{"product_id": "p-009", "barcode": "4600000000009", "qty": 1}],
    "chain": None,
}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/documents"): {
        "request": {
            "business_process": "purchase-receipt",
            "target": {"pin": "5546"},
            "documents": [_ORDER],
        },
        "201": {
            "documents": [
                {
                    "id": _ID,
                    "external_id": _ORDER["external_id"],
                    "version": 1,
                    "state": "queued",
                    "status": "created",
                    "instances": [{"id": _ID, "state": "queued", "addressee": _DEVICE}],
                }
            ]
        },
    },
    ("get", "/api/v1/terminal/documents"): {
        "200": {
            "documents": [
                {
                    "id": _ID,
                    "document_id": _ID,
                    "business_process": "purchase-receipt",
                    "terminal_document_type": "receipt",
                    "external_id": _ORDER["external_id"],
                    "number": "0000-000123",
                    "state": "queued",
                    "claimed_by_me": False,
                    "collective": False,
                    "version": 1,
                }
            ],
            "next": None,
        }
    },
    ("post", "/api/v1/terminal/documents/{instance_id}/claim"): {
        "200": {"id": _ID, "state": "claimed", "claim_token": "relay_clm_…"}
    },
    ("post", "/api/v1/terminal/documents/{instance_id}/complete"): {
        "request": {
            "submission_id": "7f1c2b9e-4d3a-4c1b-8e2f-0a9b8c7d6e5f",
            "claim_token": "relay_clm_…",
            "close": True,
            "header": {"comment": "2 boxes damaged"},
            "lines": [
                {"line_id": "1", "qty": 6},
                {"line_id": "1", "qty": 3, "serial": "SN-42"},
                {"product_id": "p-009", "barcode": "4600000000009", "qty": 1},
            ],
        },
        "200": {"id": _ID, "state": "completed", "result_id": _ID},
    },
    ("get", "/api/v1/results"): {"200": {"results": [_RESULT], "next": None}},
    ("get", "/api/v1/results/{result_id}"): {"200": _RESULT},
    ("post", "/api/v1/results/ack"): {
        "request": {"ids": [_ID]},
        "200": {"processed": [_ID], "already_processed": []},
    },
    ("post", "/api/v1/admin/enrollment-codes"): {
        "request": {"uses": 1, "ttl_seconds": 86400},
        "201": {"code": "ENR-7K2M-…", "expires_at": "2026-11-21T10:15:00.000Z", "uses_left": 1},
    },
    ("post", "/api/v1/terminal/enroll"): {
        "request": {
            "code": "ENR-7K2M-…", "name": "Склад-1", "model": "EDA50", "serial": "16204B17A7"
        },
        "201": {"device_id": _ID, "pin": "5546", "token": "relay_dev_…"},
    },
    ("post", "/api/v1/terminal/sessions"): {
        "request": {"login": "ivanov", "password": "…"},
        "201": {"session_token": "relay_ses_…", "user": {"login": "ivanov", "name": "Иванов И."}},
    },
    ("post", "/api/v1/admin/users"): {
        "request": {"login": "ivanov", "name": "Иванов И.", "password": "…"},
    },
    ("post", "/api/v1/admin/groups"): {"request": {"name": "Общая", "members": ["ivanov"]}},
    ("patch", "/api/v1/admin/devices/{device_id}"): {
        "request": {"name": "Склад-2", "mode": "online"}
    },
    ("put", "/api/v1/admin/webhook"): {
        "request": {"url": "https://1c.example.com/base/hs/relay/results", "enabled": True},
        "200": {"url": "https://1c.example.com/base/hs/relay/results", "enabled": True,
                "secret": "whsec_…"},
    },
    ("get", "/api/v1/devices"): {
        "200": {
            "devices": [
                {"id": _ID, "pin": "5546", "name": "Склад-1", "model": "EDA50",
                 "mode": "offline", "last_seen_at": "2026-11-20T10:15:00.000Z"}
            ],
            "next": None,
        }
    },
}  # fmt: skip


def _add_examples(paths: dict[str, Any]) -> None:
    for (method, path), examples in EXAMPLES.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        for key, example in examples.items():
            if key == "request":
                content = operation["requestBody"]["content"]["application/json"]
            else:
                answer = operation["responses"].get(key, {})
                if "content" not in answer:
                    continue
                content = answer["content"]["application/json"]
            content["example"] = example
