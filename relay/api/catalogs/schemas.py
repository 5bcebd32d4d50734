"""Catalog bodies (SPEC §13, Appendix B): merge, delete, uploads in packets, terminal deltas."""

import marshmallow as ma
from marshmallow import validate

from relay import settings
from relay.api.base import Schema
from relay.api.examples import PRODUCT as PRODUCT_EXAMPLE

ITEMS_DESCRIPTION = (
    "Items keyed by the accounting side's `id`. Known catalogs are validated: `products` "
    "(`name`, `unit`, `barcodes`: [{`barcode`, `unit`?, `factor`?}], `article`?), `warehouses` "
    "(`name`), `cells` (`warehouse_id`, `name`, `barcode`?), `stock` (`product_id`, "
    "`warehouse_id`, `cell_id`?, `qty`), `prices` (`product_id`, `price`). Extra fields, and "
    "every field of other catalogs, must be scalars (text, number, true/false, null)."
)


class ItemsIn(Schema):
    items = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={"description": ITEMS_DESCRIPTION, "example": [PRODUCT_EXAMPLE]},
    )


class DeleteIn(Schema):
    ids = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        metadata={"example": ["p-001"]},
    )


class ChangeOut(Schema):
    catalog = ma.fields.String(metadata={"example": "products"})
    version = ma.fields.Integer(
        metadata={"description": "The catalog's version after the call.", "example": 7}
    )
    upserted = ma.fields.Integer(metadata={"description": "Items received.", "example": 1})
    changed = ma.fields.Integer(
        metadata={
            "description": "Items that were new or different (the rest kept their version).",
            "example": 1,
        }
    )
    deleted = ma.fields.Integer(metadata={"description": "Items deleted.", "example": 0})


class UploadIn(Schema):
    mode = ma.fields.String(
        required=True,
        validate=validate.OneOf(["merge", "mirror"]),
        metadata={
            "description": "`merge` upserts the items; `mirror` makes the catalog exactly the "
            "upload (items not in it are deleted).",
            "example": "mirror",
        },
    )
    packets = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={
            "description": "How many packets will be sent, numbered from 1 "
            "(CATALOG_UPLOAD_MAX_PACKETS at most).",
            "example": 3,
            "maximum": settings.CATALOG_UPLOAD_MAX_PACKETS,
        },
    )


class UploadOut(Schema):
    id = ma.fields.String()
    catalog = ma.fields.String()
    mode = ma.fields.String()
    packets = ma.fields.Integer()
    state = ma.fields.String(metadata={"description": "`open`, `committed` or `expired`."})
    expires_at = ma.fields.String(metadata={"example": "2026-12-08T10:15:00.000Z"})
    received = ma.fields.List(ma.fields.Integer(), metadata={"description": "Packets received."})
    missing = ma.fields.List(ma.fields.Integer(), metadata={"description": "Packets not yet sent."})
    outcome = ma.fields.Nested(ChangeOut, allow_none=True)


class PacketOut(Schema):
    packet = ma.fields.Integer(metadata={"example": 1})
    items = ma.fields.Integer(metadata={"example": 5000})


class CommitIn(Schema):
    confirm_deletions = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Apply a mirror even when it deletes more than the threshold.",
            "example": False,
        },
    )


class CatalogOut(Schema):
    name = ma.fields.String(metadata={"example": "products"})
    version = ma.fields.Integer(metadata={"example": 9})
    items = ma.fields.Integer(metadata={"description": "Live items.", "example": 15000})
    updated_at = ma.fields.String(metadata={"example": "2026-12-07T10:15:00.000Z"})


class CatalogList(Schema):
    catalogs = ma.fields.List(ma.fields.Nested(CatalogOut))


class DeltaQuery(Schema):
    since = ma.fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**62),
        metadata={"description": "The version the terminal holds; 0 for the full catalog."},
    )
    after = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=1000),
        metadata={"description": "Cursor from the previous page's `next`."},
    )
    limit = ma.fields.Integer(
        load_default=None,
        metadata={
            "description": "Items per page (default 1000, at most 5000).",
            "minimum": 1,
            "maximum": settings.CATALOG_PAGE_SIZE_MAX,
        },
    )


class DeltaOut(Schema):
    catalog = ma.fields.String(metadata={"example": "products"})
    version = ma.fields.Integer(
        metadata={"description": "Store this version once `next` is null.", "example": 9}
    )
    items = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Items changed (or, with since=0, all)."}
    )
    deleted = ma.fields.List(
        ma.fields.String(), metadata={"description": "Ids of deleted items.", "example": ["p-001"]}
    )
    next = ma.fields.String(
        allow_none=True, metadata={"description": "Cursor of the next page; null on the last."}
    )


class BarcodeOut(Schema):
    type = ma.fields.String(metadata={"description": "`product` or `cell`.", "example": "product"})
    barcode = ma.fields.String(metadata={"example": "14601234567897"})
    catalog = ma.fields.String(metadata={"example": "products"})
    factor = ma.fields.Decimal(
        allow_none=True,
        as_string=False,
        metadata={"description": "Units of the product in this packaging.", "example": 12},
    )
    unit = ma.fields.String(allow_none=True, metadata={"example": "кор"})
    item = ma.fields.Dict(metadata={"example": PRODUCT_EXAMPLE})
    matches = ma.fields.Integer(
        metadata={"description": "Items carrying this barcode (the first is answered)."}
    )
