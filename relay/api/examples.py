"""An example of every operation's body and success answer, as the relay sends and takes them.

Appendix A's payloads where the SPEC has them; the rest are what the relay answers for the
same warehouse (tests/api/test_examples.py sends the request examples to a relay and checks
every example against its schema).
"""

from typing import Any

ID = "0190f2a1-7c3e-7d2a-9b1e-3f5a2c4d6e80"
DOCUMENT_ID = "0190f2a1-7c3e-7d2a-9b1e-3f5a2c4d6e81"
DEVICE_ID = "0190f2a1-7c3e-7d2a-9b1e-3f5a2c4d6e82"
USER_ID = "0190f2a1-7c3e-7d2a-9b1e-3f5a2c4d6e83"
GROUP_ID = "0190f2a1-7c3e-7d2a-9b1e-3f5a2c4d6e84"
AT = "2026-11-20T10:15:00.000Z"

ORDER: dict[str, Any] = {
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
DEVICE_ADDRESSEE = {"type": "device", "device_id": DEVICE_ID, "pin": "5546", "name": "Склад-1"}
RESULT: dict[str, Any] = {
    "id": ID,
    "document_id": DOCUMENT_ID,
    "instance_id": ID,
    "external_id": ORDER["external_id"],
    "business_process": "purchase-receipt",
    "business_process_version": 1,
    "result_document_type": "Приобретение товаров и услуг",
    "on_load": {
        "create_new_document": True,
        "post_after_load": False,
        "write_after_load": "online_only",
    },
    "completed_at": AT,
    "completed_by": {"login": "ivanov", "device_id": DEVICE_ID, "pin": "5546", "mode": "offline"},
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
SUMMARY = {
    "id": DOCUMENT_ID,
    "external_id": ORDER["external_id"],
    "business_process": "purchase-receipt",
    "business_process_version": 1,
    "number": "0000-000123",
    "date": "2026-11-20",
    "version": 1,
    "state": "queued",
    "created_at": AT,
    "updated_at": AT,
}
DOCUMENT: dict[str, Any] = {
    **SUMMARY,
    "header": ORDER["header"],
    "lines": ORDER["lines"],
    "target": {"pin": "5546"},
    "next_target": None,
    "chained_from_result_id": None,
    "instances": [
        {
            "id": ID,
            "state": "queued",
            "addressee": DEVICE_ADDRESSEE,
            "addressees": [DEVICE_ADDRESSEE],
            "holder": None,
            "claim_expires_at": None,
            "parts": [],
        }
    ],
    "result_ids": [],
    "timeline": [
        {
            "at": AT,
            "kind": "pushed",
            "actor": "accounting",
            "instance_id": None,
            "device_id": None,
            "user_id": None,
            "details": {"version": 1},
        }
    ],
}
CANCELLED = {
    **DOCUMENT,
    "state": "cancelled",
    "instances": [{**DOCUMENT["instances"][0], "state": "cancelled"}],
}
INBOX_ITEM = {
    "id": ID,
    "document_id": DOCUMENT_ID,
    "business_process": "purchase-receipt",
    "terminal_document_type": "receipt",
    "external_id": ORDER["external_id"],
    "number": "0000-000123",
    "date": "2026-11-20",
    "state": "queued",
    "claimed_by_me": False,
    "collective": False,
    "version": 1,
}
ON_LOAD = {"create_new_document": True, "post_after_load": False, "write_after_load": "always"}
FIELDS = {
    "header_to_terminal": None,
    "lines_to_terminal": None,
    "header_from_terminal": ["comment"],
    "lines_from_terminal": ["product_id", "barcode", "serial", "lot"],
}
PROCESS_FIELDS = {
    "key": "purchase-receipt",
    "name": "Приёмка по заказу поставщику",
    "enabled": True,
    "source_document_type": "Заказ поставщику",
    "terminal_document_type": "receipt",
    "result_document_type": "Приобретение товаров и услуг",
    "load_into_source_document": False,
    "next_business_process": None,
    "assign_to": "device",
    "assignees": None,
    "per_user_copy": False,
    "collective_work": False,
    "keep_merged_document": True,
    "quantity_control": "no_excess",
    "on_load": ON_LOAD,
    "fields": FIELDS,
    "claim_limit_minutes": None,
}
PROCESS = {**PROCESS_FIELDS, "version": 2, "updated_at": AT}
USER = {
    "id": USER_ID,
    "login": "ivanov",
    "name": "Иванов И.",
    "groups": ["Общая"],
    "created_at": AT,
    "locked_until": None,
}
GROUP = {"id": GROUP_ID, "name": "Общая", "members": ["ivanov"], "created_at": AT}
ADMIN_DEVICE = {
    "id": DEVICE_ID,
    "pin": "5546",
    "name": "Склад-1",
    "model": "EDA50",
    "serial": "16204B17A7",
    "mode": "offline",
    "last_seen_at": AT,
    "status": "active",
    "last_pin": None,
    "created_at": AT,
    "revoked_at": None,
}
OUTBOX = {"pending": 0, "dead": 0}
WEBHOOK = {
    "url": "https://1c.example.com/base/hs/relay/results",
    "enabled": True,
    "disabled_reason": None,
    "previous_secret_valid_until": None,
    "created_at": AT,
    "updated_at": AT,
    "outbox": OUTBOX,
}
DEAD_LETTER = {
    "id": "msg_0193a1f2c3d47e8f9a0b1c2d3e4f5a6b",
    "state": "dead",
    "result_id": ID,
    "document_id": DOCUMENT_ID,
    "external_id": ORDER["external_id"],
    "business_process": "purchase-receipt",
    "attempts": 9,
    "last_status": 503,
    "last_error": "HTTP 503",
    "last_attempt_at": AT,
    "created_at": AT,
}
PRODUCT = {
    "id": "p-001",
    "name": "Молоко 1 л",
    "unit": "шт",
    "article": "MLK-1",
    "barcodes": [
        {"barcode": "4601234567890"},
        {"barcode": "14601234567897", "unit": "кор", "factor": 12},
    ],
}
CATALOG_ITEMS = {
    "products": PRODUCT,
    "warehouses": {"id": "wh-1", "name": "Основной склад"},
    "cells": {"id": "c-a1", "warehouse_id": "wh-1", "name": "A-01-1", "barcode": "2000000000015"},
    "stock": {"id": "p-001@wh-1", "product_id": "p-001", "warehouse_id": "wh-1", "qty": 42.5},
    "prices": {"id": "p-001@retail", "product_id": "p-001", "price": 89.9},
    "": {"id": "r-1", "name": "Возврат: брак", "code": 1},
}
CHANGE = {"catalog": "products", "version": 7, "upserted": 1, "changed": 1, "deleted": 0}
UPLOAD = {
    "id": ID,
    "catalog": "products",
    "mode": "mirror",
    "packets": 3,
    "state": "open",
    "expires_at": "2026-11-21T10:15:00.000Z",
    "received": [1],
    "missing": [2, 3],
    "outcome": None,
}
CATALOG = {"name": "products", "version": 9, "items": 15000, "updated_at": AT}
DELTA = {
    "catalog": "products",
    "version": 9,
    "items": [PRODUCT],
    "deleted": ["p-002"],
    "next": None,
}
COMPLETION = {
    "submission_id": "7f1c2b9e-4d3a-4c1b-8e2f-0a9b8c7d6e5f",
    "claim_token": "relay_clm_…",
    "close": True,
    "header": {"comment": "2 boxes damaged"},
    "lines": [
        {"line_id": "1", "qty": 6},
        {"line_id": "1", "qty": 3, "serial": "SN-42"},
        {"product_id": "p-009", "barcode": "4600000000009", "qty": 1},
    ],
}
# A completion queued on a terminal while offline, uploaded later in a batch.
SUBMISSION = "1b0e6c3a-9f2d-4e8b-a7c5-3d2f1e0a9b8c"
COMPLETED = {"id": ID, "state": "completed", "result_id": ID}

# (method, path) → {"request": body, "<status>": answer}.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/healthz"): {"200": {"status": "ok"}},
    ("get", "/readyz"): {"200": {"status": "ok", "database": "ok"}},
    ("post", "/api/v1/documents"): {
        "request": {
            "business_process": "purchase-receipt",
            "target": {"pin": "5546"},
            "documents": [ORDER],
        },
        "201": {
            "documents": [
                {
                    "id": DOCUMENT_ID,
                    "external_id": ORDER["external_id"],
                    "business_process": "purchase-receipt",
                    "version": 1,
                    "state": "queued",
                    "status": "created",
                    "instances": [
                        {
                            "id": ID,
                            "state": "queued",
                            "addressee": DEVICE_ADDRESSEE,
                            "addressees": [DEVICE_ADDRESSEE],
                        }
                    ],
                }
            ]
        },
    },
    ("get", "/api/v1/documents"): {"200": {"documents": [SUMMARY], "next": None}},
    ("get", "/api/v1/documents/{document_id}"): {"200": DOCUMENT},
    ("post", "/api/v1/documents/{document_id}/cancel"): {"request": {}, "200": CANCELLED},
    ("post", "/api/v1/documents/{document_id}/reroute"): {
        "request": {"target": {"pin": "5547"}},
        "200": {
            **DOCUMENT,
            "target": {"pin": "5547"},
            "instances": [
                {
                    **DOCUMENT["instances"][0],
                    "addressee": {**DEVICE_ADDRESSEE, "pin": "5547", "name": "Склад-2"},
                    "addressees": [{**DEVICE_ADDRESSEE, "pin": "5547", "name": "Склад-2"}],
                }
            ],
        },
    },
    ("post", "/api/v1/documents/{document_id}/release"): {"request": {}, "200": DOCUMENT},
    ("post", "/api/v1/documents/{document_id}/close"): {
        "request": {},
        "200": {"id": ID, "state": "completed", "result_id": ID, "result_ids": [ID]},
    },
    ("get", "/api/v1/results"): {"200": {"results": [RESULT], "next": None}},
    ("get", "/api/v1/results/{result_id}"): {"200": RESULT},
    ("post", "/api/v1/results/ack"): {
        "request": {"ids": [ID]},
        "200": {"processed": [ID], "already_processed": []},
    },
    ("get", "/api/v1/devices"): {
        "200": {
            "devices": [
                {"id": DEVICE_ID, "pin": "5546", "name": "Склад-1", "model": "EDA50",
                 "mode": "offline", "last_seen_at": AT}
            ],
            "next": None,
        }
    },
    ("post", "/api/v1/terminal/enroll"): {
        "request": {
            "code": "ENR-7K2M-…", "name": "Склад-1", "model": "EDA50", "serial": "16204B17A7"
        },
        "201": {"device_id": DEVICE_ID, "pin": "5546", "token": "relay_dev_…",
                "name": "Склад-1", "mode": "offline"},
    },
    ("post", "/api/v1/terminal/sessions"): {
        "request": {"login": "ivanov", "password": "secret-42"},
        "201": {"session_token": "relay_ses_…", "user": {"login": "ivanov", "name": "Иванов И."},
                "expires_at": "2026-11-20T22:15:00.000Z"},
    },
    ("get", "/api/v1/terminal/documents"): {"200": {"documents": [INBOX_ITEM], "next": None}},
    ("get", "/api/v1/terminal/documents/{instance_id}"): {
        "200": {
            **INBOX_ITEM,
            "header": ORDER["header"],
            "lines": ORDER["lines"],
            "quantity_control": "no_excess",
            "accepts": {"header": ["comment"], "lines": ["product_id", "barcode", "serial"]},
        }
    },
    ("post", "/api/v1/terminal/documents/{instance_id}/claim"): {
        "request": {},
        "200": {"id": ID, "state": "claimed", "claim_token": "relay_clm_…"},
    },
    ("post", "/api/v1/terminal/documents/{instance_id}/join"): {
        "request": {},
        "200": {"id": ID, "state": "claimed", "part_id": USER_ID, "claim_token": "relay_clm_…"},
    },
    ("post", "/api/v1/terminal/documents/{instance_id}/release"): {
        "request": {},
        "200": {"id": ID, "state": "queued"},
    },
    ("post", "/api/v1/terminal/documents/{instance_id}/complete"): {
        "request": COMPLETION,
        "200": COMPLETED,
    },
    ("post", "/api/v1/terminal/completions"): {
        "request": {"completions": [{**COMPLETION, "id": ID, "submission_id": SUBMISSION}]},
        "200": {
            "results": [{"id": ID, "submission_id": SUBMISSION, "status": 200, "body": COMPLETED}]
        },
    },
    ("get", "/api/v1/admin/business-processes"): {"200": {"business_processes": [PROCESS]}},
    ("get", "/api/v1/admin/business-processes/{key}"): {"200": PROCESS},
    ("put", "/api/v1/admin/business-processes/{key}"): {
        "request": {**PROCESS_FIELDS, "version": 2},
        "200": {**PROCESS, "version": 3},
    },
    ("patch", "/api/v1/admin/business-processes/{key}"): {
        "request": {"quantity_control": "exact", "on_load": {"post_after_load": True}},
        "200": {
            **PROCESS,
            "quantity_control": "exact",
            "on_load": {**ON_LOAD, "post_after_load": True},
            "version": 3,
        },
    },
    ("get", "/api/v1/admin/users"): {"200": {"users": [USER], "next": None}},
    ("post", "/api/v1/admin/users"): {
        "request": {"login": "ivanov", "name": "Иванов И.", "password": "secret-42"},
        "201": {**USER, "groups": []},
    },
    ("get", "/api/v1/admin/users/{login}"): {"200": USER},
    ("patch", "/api/v1/admin/users/{login}"): {
        "request": {"name": "Иванов Иван"},
        "200": {**USER, "name": "Иванов Иван"},
    },
    ("get", "/api/v1/admin/groups"): {"200": {"groups": [GROUP], "next": None}},
    ("post", "/api/v1/admin/groups"): {
        "request": {"name": "Общая", "members": ["ivanov"]},
        "201": GROUP,
    },
    ("get", "/api/v1/admin/groups/{name}"): {"200": GROUP},
    ("patch", "/api/v1/admin/groups/{name}"): {
        "request": {"members": ["ivanov", "petrov"]},
        "200": {**GROUP, "members": ["ivanov", "petrov"]},
    },
    ("get", "/api/v1/admin/devices"): {"200": {"devices": [ADMIN_DEVICE], "next": None}},
    ("get", "/api/v1/admin/devices/{device_id}"): {"200": ADMIN_DEVICE},
    ("patch", "/api/v1/admin/devices/{device_id}"): {
        "request": {"name": "Склад-2", "mode": "online"},
        "200": {**ADMIN_DEVICE, "name": "Склад-2", "mode": "online"},
    },
    ("post", "/api/v1/admin/devices/{device_id}/revoke"): {
        "request": {},
        "200": {
            **ADMIN_DEVICE,
            "pin": None,
            "last_pin": "5546",
            "status": "revoked",
            "revoked_at": AT,
            "unfinished": [],
        },
    },
    ("post", "/api/v1/admin/devices/{device_id}/new-pin"): {
        "request": {},
        "200": {**ADMIN_DEVICE, "pin": "7310", "last_pin": "5546"},
    },
    ("post", "/api/v1/admin/enrollment-codes"): {
        "request": {"uses": 1, "ttl_seconds": 86400},
        "201": {
            "code": "ENR-7K2M-…",
            "expires_at": "2026-11-21T10:15:00.000Z",
            "uses_left": 1,
            "qr_payload": '{"relay":"http://192.168.1.10:8000","code":"ENR-7K2M-…"}',
            "qr_svg": '<svg xmlns="http://www.w3.org/2000/svg" …>…</svg>',
            "warning": None,
        },
    },
    ("get", "/api/v1/admin/webhook"): {"200": WEBHOOK},
    ("put", "/api/v1/admin/webhook"): {
        "request": {"url": "https://1c.example.com/base/hs/relay/results", "enabled": True},
        "200": {**WEBHOOK, "secret": "whsec_…"},
    },
    ("post", "/api/v1/admin/webhook/rotate-secret"): {
        "request": {},
        "200": {**WEBHOOK, "secret": "whsec_…", "previous_secret_valid_until": AT},
    },
    ("post", "/api/v1/admin/webhook/test"): {
        "request": {},
        "200": {"webhook_id": "msg_0193a1f2c3d47e8f9a0b1c2d3e4f5a6c", "delivered": True,
                "status": 200, "error": None, "seconds": 0.041},
    },
    ("get", "/api/v1/admin/dead-letters"): {"200": {"dead_letters": [DEAD_LETTER], "next": None}},
    ("post", "/api/v1/admin/dead-letters/{entry_id}/replay"): {
        "request": {},
        "200": {**DEAD_LETTER, "state": "pending", "attempts": 0},
    },
    ("post", "/api/v1/admin/dead-letters/replay-all"): {"request": {}, "200": {"replayed": 1}},
    ("get", "/api/v1/business-processes"): {
        "200": {
            "business_processes": [
                {"key": "order-picking", "name": "Сборка заказа", "enabled": True,
                 "assign_to": "users", "assignees": {"users": [], "groups": ["Общая"]},
                 "per_user_copy": False, "collective_work": False, "version": 1}
            ]
        }
    },
    ("get", "/api/v1/users"): {"200": {"users": [{"login": "ivanov", "name": "Иванов И."}],
                                       "next": None}},
    ("get", "/api/v1/groups"): {"200": {"groups": [{"name": "Общая", "members": ["ivanov"]}],
                                        "next": None}},
    ("get", "/api/v1/catalogs"): {"200": {"catalogs": [CATALOG]}},
    ("get", "/api/v1/catalogs/{name}"): {"200": CATALOG},
    ("get", "/api/v1/catalogs/{name}/items"): {"200": DELTA},
    ("put", "/api/v1/catalogs/{name}/items"): {
        "request": {"items": [CATALOG_ITEMS[""]]},
        "200": {**CHANGE, "catalog": "return-reasons"},
    },
    ("post", "/api/v1/catalogs/{name}/delete"): {
        "request": {"ids": ["p-001"]},
        "200": {**CHANGE, "version": 8, "upserted": 0, "changed": 0, "deleted": 1},
    },
    ("post", "/api/v1/catalogs/{name}/uploads"): {
        "request": {"mode": "mirror", "packets": 3},
        "201": {**UPLOAD, "received": [], "missing": [1, 2, 3]},
    },
    ("get", "/api/v1/catalogs/{name}/uploads/{upload_id}"): {"200": UPLOAD},
    ("put", "/api/v1/catalogs/{name}/uploads/{upload_id}/packets/{number}"): {
        "request": {"items": [CATALOG_ITEMS[""]]},
        "200": {"packet": 1, "items": 1},
    },
    ("post", "/api/v1/catalogs/{name}/uploads/{upload_id}/commit"): {
        "request": {"confirm_deletions": False},
        "200": {**CHANGE, "version": 9, "upserted": 15000, "changed": 15000, "deleted": 12},
    },
    ("get", "/api/v1/terminal/catalogs"): {"200": {"catalogs": [CATALOG]}},
    ("get", "/api/v1/terminal/catalogs/{name}"): {"200": DELTA},
    ("get", "/api/v1/terminal/barcodes/{barcode}"): {
        "200": {"type": "product", "barcode": "14601234567897", "catalog": "products",
                "factor": 12, "unit": "кор", "item": PRODUCT, "matches": 1}
    },
}  # fmt: skip

_push = EXAMPLES[("post", "/api/v1/documents")]
_push["200"] = {"documents": [{**_push["201"]["documents"][0], "status": "unchanged"}]}

for _name, _item in CATALOG_ITEMS.items():
    if _name:
        EXAMPLES[("put", f"/api/v1/catalogs/{_name}/items")] = {
            "request": {"items": [_item]},
            "200": {**CHANGE, "catalog": _name},
        }
        EXAMPLES[("get", f"/api/v1/catalogs/{_name}/items")] = {
            "200": {**DELTA, "catalog": _name, "items": [_item], "deleted": []}
        }
        EXAMPLES[("put", f"/api/v1/catalogs/{_name}/uploads/{{upload_id}}/packets/{{number}}")] = {
            "request": {"items": [_item]},
            "200": {"packet": 1, "items": 1},
        }
