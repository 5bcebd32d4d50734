"""What the OpenAPI document says beyond each view's schemas: the errors every operation may
answer, which bodies are optional, and the webhook the relay sends (SPEC §8, §11).

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
