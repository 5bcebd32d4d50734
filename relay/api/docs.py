"""What the OpenAPI document says beyond each view's schemas: the errors every operation may
answer, which bodies are optional, the bounds the server checks that a field's own schema does
not say (the body parser's numbers, free maps of scalars, a one-kind target, process fields
that must agree, each known catalog's items), the webhook the relay sends (SPEC §8, §11), and
the examples of relay/api/examples.py.

Written once here from what the code does (the auth decorator, the JSON parser, the limits),
rather than repeated on every view. OpenAPI 3.0.3, which the Swagger UI the relay serves reads.
"""

import copy
from typing import Any

from relay import jsonutil, settings
from relay.api.base import Api
from relay.api.examples import AT, EXAMPLES, RESULT
from relay.api.terminal.schemas import BatchCompletion
from relay.catalogs import items
from relay.catalogs.items import NAME as CATALOG_NAME
from relay.processes.schema import KEY_PATTERN

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RATE_LIMITED = ("/api/v1/terminal/enroll", "/api/v1/terminal/sessions")

ONLINE_RESULT = {**RESULT, "completed_by": {**RESULT["completed_by"], "mode": "online"}}
# Standard Webhooks headers on every delivery (SPEC §8), and what they look like.
WEBHOOK_HEADER_EXAMPLES = {
    "webhook-id": "msg_0193a1f2c3d47e8f9a0b1c2d3e4f5a6b",
    "webhook-timestamp": "1795256100",
    "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
}
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
         "description": description, "example": WEBHOOK_HEADER_EXAMPLES[name]}
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
                    {
                        "type": "object",
                        "title": "ping",
                        "required": ["tenant"],
                        "properties": {"tenant": {"type": "string"}},
                        "additionalProperties": False,
                    },
                ],
            },
        },
    }
    examples = {
        "result.completed": {
            "summary": "A result of an online device",
            "value": {"type": "result.completed", "timestamp": AT, "data": ONLINE_RESULT},
        },
        "ping": {
            "summary": "POST /api/v1/admin/webhook/test",
            "value": {"type": "ping", "timestamp": AT, "data": {"tenant": "demo"}},
        },
    }
    body = {
        "required": True,
        "content": {"application/json": {"schema": event, "examples": examples}},
    }
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


# -- Bounds the server enforces that the marshmallow fields cannot say by themselves ----------

# A number as the body parser takes it in any field (relay.jsonutil): below 10**40 in
# magnitude, at most 40 digits after the point.
JSON_NUMBER = {
    "type": "number",
    "description": f"Below 10^{jsonutil.MAX_EXPONENT} in magnitude, at most "
    f"{jsonutil.MAX_EXPONENT} digits after the point (any number in a body).",
    "minimum": -(10**jsonutil.MAX_EXPONENT),
    "exclusiveMinimum": True,
    "maximum": 10**jsonutil.MAX_EXPONENT,
    "exclusiveMaximum": True,
    "multipleOf": float(f"1e-{jsonutil.MAX_EXPONENT}"),
}
# OpenAPI 3.0 has no "null" type: a nullable type whose only value is null.
NULL = {"type": "string", "nullable": True, "enum": [None]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SHARED_SCHEMAS: dict[str, dict[str, Any]] = {
    "JsonNumber": JSON_NUMBER,
    "Scalar": {
        "description": "Text, a number, true/false or null.",
        "anyOf": [{"type": "string"}, _ref("JsonNumber"), {"type": "boolean"}, NULL],
    },
    "JsonValue": {
        "description": "Any JSON value.",
        "anyOf": [
            {"type": "string"},
            _ref("JsonNumber"),
            {"type": "boolean"},
            NULL,
            {"type": "array", "items": _ref("JsonValue")},
            {"type": "object", "additionalProperties": _ref("JsonValue")},
        ],
    },
}

_YEAR = "([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    "|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    "|02-(0[1-9]|1[0-9]|2[0-8]))"
)
_HOUR = "([01][0-9]|2[0-3])"
_TIME = f"[T ]{_HOUR}:[0-5][0-9](:[0-5][0-9](\\.[0-9]+)?)?(Z|[+-]{_HOUR}:?[0-5][0-9])?"
# What relay.api.fields.DocumentDate takes: a real date, or date and time (ISO 8601).
DATE_PATTERN = f"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)({_TIME})?$"

# A target names one kind of addressee; users and groups together are one kind, and an empty
# list or "all": false names nothing.
_NO_DEVICE = {"not": {"anyOf": [{"required": ["pin"]}, {"required": ["device_id"]}]}}
_NOBODY = {"users": {"maxItems": 0}, "groups": {"maxItems": 0}}
TARGET_KINDS = [
    {
        "title": "By PIN",
        "required": ["pin"],
        "not": {"required": ["device_id"]},
        "properties": {**_NOBODY, "all": {"enum": [False]}},
    },
    {
        "title": "By device id",
        "required": ["device_id"],
        "not": {"required": ["pin"]},
        "properties": {**_NOBODY, "all": {"enum": [False]}},
    },
    {
        "title": "Users and/or groups (none at all: no target)",
        **_NO_DEVICE,
        "properties": {"all": {"enum": [False]}},
    },
    {
        "title": "Everyone",
        **_NO_DEVICE,
        "required": ["all"],
        "properties": {**_NOBODY, "all": {"enum": [True]}},
    },
]

# Process fields that must agree (relay.processes.schema.disagreement), for a whole process.
# A PATCH is checked merged with the stored process, which its body's schema cannot see.
_DEVICE_ALONE = {
    "title": "A device process: no fixed users or groups, no copies, no collective work",
    "properties": {
        "assign_to": {"enum": ["device"]},
        "assignees": {
            "type": "object",
            "nullable": True,
            "properties": {"users": {"maxItems": 0}, "groups": {"maxItems": 0}},
        },
        "per_user_copy": {"enum": [False]},
        "collective_work": {"enum": [False]},
    },
}
PROCESS_AGREEMENT = {
    "anyOf": [
        {"title": "A process for users", "properties": {"assign_to": {"enum": ["users"]}}},
        _DEVICE_ALONE,
    ],
    "not": {
        "title": "both per_user_copy and collective_work",
        "required": ["per_user_copy", "collective_work"],
        "properties": {"per_user_copy": {"enum": [True]}, "collective_work": {"enum": [True]}},
    },
}
# Path parameters of a known form: (the path's start, the parameter) → its pattern.
PATH_PATTERNS = {
    ("/api/v1/admin/business-processes/", "key"): KEY_PATTERN,
    ("/api/v1/catalogs/", "name"): CATALOG_NAME.pattern,
    ("/api/v1/terminal/catalogs/", "name"): CATALOG_NAME.pattern,
}


def _only_null_when_none(schema: Any) -> None:
    """Make apispec's nullable branch of a nested object (``{"type": "object", "nullable":
    true}``, which admits any object) admit null alone."""
    if isinstance(schema, dict):
        for branch in schema.get("anyOf", []):
            if branch == {"type": "object", "nullable": True}:
                branch["enum"] = [None]
        for value in schema.values():
            _only_null_when_none(value)
    elif isinstance(schema, list):
        for value in schema:
            _only_null_when_none(value)


def _state_bounds(api: Api) -> None:
    """Say in the document the bounds the server enforces beyond each field's own schema."""
    for name, schema in SHARED_SCHEMAS.items():
        api.spec.components.schema(name, schema)
    api.spec.components.schema("BatchCompletion", schema=BatchCompletion)
    schemas = api.spec.components.schemas
    for line in ("LineIn", "ActualLine"):
        schemas[line]["additionalProperties"] = _ref("Scalar")
        schemas[line]["description"] = (
            "Fields beyond the ones listed are kept when they are scalars (text, numbers, "
            "true/false, null)."
        )
    for body in ("DocumentIn", "CompleteIn", "BatchCompletion"):
        header = schemas[body]["properties"]["header"]
        header["additionalProperties"] = _ref("JsonValue")
        header["description"] = "Free fields: names of 1 to 64 characters, any JSON values."
    date = schemas["DocumentIn"]["properties"]["date"]
    date.update(pattern=DATE_PATTERN, maxLength=32)
    schemas["Target"]["anyOf"] = TARGET_KINDS
    schemas["Target"]["description"] = (
        "One kind of addressee: a PIN, a device id, users and/or groups, or everyone."
    )
    schemas["BatchIn"]["properties"]["completions"]["items"] = {
        "description": "A completion as …/complete takes it, with the instance `id`. Each is "
        "checked on its own: one of another shape is answered in `results` with its 422.",
        "anyOf": [
            {"$ref": "#/components/schemas/BatchCompletion"},
            {"type": "object", "additionalProperties": _ref("JsonValue")},
            {"type": "array", "items": _ref("JsonValue")},
            {"type": "string"},
            _ref("JsonNumber"),
            {"type": "boolean"},
        ],
    }
    schemas["ProcessIn"].update(PROCESS_AGREEMENT)
    for schema in schemas.values():
        _only_null_when_none(schema)
    for path, item in api.spec._paths.items():
        for parameter in item.get("parameters", []):
            for (start, name), pattern in PATH_PATTERNS.items():
                if path.startswith(start) and parameter == {
                    **parameter,
                    "name": name,
                    "in": "path",
                }:
                    parameter["schema"] = {"type": "string", "pattern": pattern}


# -- Catalog items (relay.catalogs.items): each known catalog's fields, at a path of its own --


def _text(most: int, *, nullable: bool = False, least: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "minLength": least, "maxLength": most}
    if nullable:
        out["nullable"] = True
    return out


def _digits_then_one(positions: int, tail: int) -> str:
    """Text of at most ``positions + tail`` digits with a nonzero one among the first ones."""
    return "|".join(
        f"[0-9]{{{k}}}[1-9][0-9]{{0,{positions + tail - 1 - k}}}" for k in range(positions)
    )


_INTEGER_DIGITS, _DECIMALS = 21, 20
_FRACTION = f"(\\.[0-9]{{1,{_DECIMALS}}})?"


def _catalog_decimal(sign: str) -> dict[str, Any]:
    """A catalog number (qty, price): a JSON number, or text like "89.90".

    ``sign`` is "any" or "not_negative". Its magnitude is 0 or within [10^-20, 10^21)
    (relay.catalogs.items._bounded).
    """
    ranges: list[dict[str, Any]] = [
        {"enum": [0]},
        {"minimum": 1e-20, "maximum": 1e21, "exclusiveMaximum": True},
    ]
    if sign == "any":
        ranges.append({"minimum": -1e21, "exclusiveMinimum": True, "maximum": -1e-20})
    number = {**JSON_NUMBER, "anyOf": ranges}
    number.pop("description")
    whole = f"[0-9]{{1,{_INTEGER_DIGITS}}}{_FRACTION}"
    text_pattern = {
        "any": f"^-?{whole}$",
        "not_negative": f"^(-0{{1,{_INTEGER_DIGITS}}}(\\.0{{1,{_DECIMALS}}})?|{whole})$",
    }[sign]
    return {
        "description": "A number, or text like 89.90 (digits, a point, digits).",
        "anyOf": [number, {"type": "string", "pattern": text_pattern}],
    }


def _packaging_factor() -> dict[str, Any]:
    """A packaging's factor as relay.catalogs.items._factor takes it."""
    digits, decimals = items.FACTOR_INTEGER_DIGITS, items.FACTOR_DECIMALS
    step = float(f"1e-{decimals}")
    number = {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 10**digits,
        "exclusiveMaximum": True,
        "multipleOf": step,
    }
    fraction = f"(\\.[0-9]{{1,{decimals}}})?"
    text = (
        f"^(({_digits_then_one(digits, 0)}){fraction}"
        f"|0{{1,{digits}}}\\.({_digits_then_one(decimals, 0)}))$"
    )
    return {
        "description": f"Units in this packaging: above 0, below 10^{digits}, at most "
        f"{decimals} decimals; a number, or text like 12 or 0.5.",
        "anyOf": [number, {"type": "string", "pattern": text}, NULL],
    }


def _item(title: str, required: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"{title} Fields beyond these are kept when they are scalars.",
        "required": ["id", *required],
        "properties": {"id": _text(200), **fields},
        "additionalProperties": _ref("Scalar"),
    }


CATALOG_ITEMS: dict[str, dict[str, Any]] = {
    "products": _item(
        "A product; `barcodes` has one entry per packaging (a barcode once).",
        ["name", "unit"],
        {
            "name": _text(500),
            "unit": _text(64),
            "article": _text(200, nullable=True, least=0),
            "barcodes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["barcode"],
                    "properties": {
                        "barcode": _text(100),
                        "unit": _text(64, nullable=True, least=0),
                        "factor": _packaging_factor(),
                    },
                    "additionalProperties": False,
                },
            },
        },
    ),
    "warehouses": _item("A warehouse.", ["name"], {"name": _text(500)}),
    "cells": _item(
        "A storage cell.",
        ["warehouse_id", "name"],
        {"warehouse_id": _text(200), "name": _text(500), "barcode": _text(100, nullable=True)},
    ),
    "stock": _item(
        "A stock balance.",
        ["product_id", "warehouse_id", "qty"],
        {
            "product_id": _text(200),
            "warehouse_id": _text(200),
            "cell_id": _text(200, nullable=True, least=0),
            "qty": _catalog_decimal("any"),
        },
    ),
    "prices": _item(
        "A price.",
        ["product_id", "price"],
        {"product_id": _text(200), "price": _catalog_decimal("not_negative")},
    ),
}
FREE_ITEM = _item("An item of a catalog that is not one of the known ones.", [], {})
ITEM_PATHS = (
    "/api/v1/catalogs/{name}/items",
    "/api/v1/catalogs/{name}/uploads/{upload_id}/packets/{number}",
)


def _items_body(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "maxItems": settings.CATALOG_PACKET_MAX_ITEMS, "items": item}
        },
        "additionalProperties": False,
    }


def _catalog_paths(api: Api) -> None:
    """Give each known catalog's item-carrying paths a body of its own items.

    The server takes every catalog at ``{name}``; the document lists the known ones apart (a
    concrete path is matched before a templated one), so each states its items' fields, and
    ``{name}`` there names any other catalog.
    """
    paths = api.spec._paths
    for name, item in {**CATALOG_ITEMS, "": FREE_ITEM}.items():
        api.spec.components.schema(f"{name.capitalize() or 'Free'}Item", item)
    for template in ITEM_PATHS:
        generic = paths[template]
        for parameter in generic["parameters"]:
            if parameter["name"] == "number":
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == "name":
                parameter["schema"]["not"] = {"enum": list(CATALOG_ITEMS)}
                parameter["description"] = "Any catalog but the known ones (listed apart)."
        generic["put"]["requestBody"]["content"]["application/json"]["schema"] = _items_body(
            _ref("FreeItem")
        )
        for name in CATALOG_ITEMS:
            concrete = copy.deepcopy(generic)
            concrete["parameters"] = [p for p in concrete["parameters"] if p["name"] != "name"]
            body = concrete["put"]["requestBody"]["content"]["application/json"]
            body["schema"] = _items_body(_ref(f"{name.capitalize()}Item"))
            for operation in concrete.values():
                if isinstance(operation, dict) and "summary" in operation:
                    operation["summary"] += f" ({name})"
            paths[template.replace("{name}", name)] = concrete


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
    _state_bounds(api)
    _catalog_paths(api)
    webhook = api.spec._paths.get("/api/v1/admin/webhook", {}).get("put")
    if webhook is not None:
        webhook["callbacks"] = _webhook_callback()
    _add_examples(api.spec._paths)


def _add_examples(paths: dict[str, Any]) -> None:
    """Show relay.api.examples on the operations (an example of no operation is an error)."""
    for (method, path), examples in EXAMPLES.items():
        operation = paths[path][method]
        for key, example in examples.items():
            if key == "request":
                content = operation["requestBody"]["content"]["application/json"]
            else:
                answer = operation["responses"].get(key, {})
                if "content" not in answer:
                    continue
                content = answer["content"]["application/json"]
            content["example"] = example
