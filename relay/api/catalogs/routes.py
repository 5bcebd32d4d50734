"""Catalogs (SPEC §13): accounting writes them, terminals sync them by version."""

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView

from relay.api.base import Blueprint, as_built, authenticated, identity, path_id
from relay.api.catalogs.schemas import (
    PRODUCT_EXAMPLE,
    BarcodeOut,
    CatalogList,
    CatalogOut,
    ChangeOut,
    CommitIn,
    DeleteIn,
    DeltaOut,
    DeltaQuery,
    ItemsIn,
    PacketOut,
    UploadIn,
    UploadOut,
)
from relay.api.errors import ErrorSchema
from relay.catalogs import barcodes, changes, deltas, uploads
from relay.catalogs.config import Settings
from relay.catalogs.items import NAME
from relay.db import transaction
from relay.errors import N_, Invalid, NotFound
from relay.models import Catalog
from relay.timeutil import iso, utcnow

blp = Blueprint(
    "catalogs",
    __name__,
    url_prefix="/api/v1/catalogs",
    description="Reference data for terminals: products with barcodes, warehouses, cells, "
    "stock, prices (accounting key). Every change makes a new catalog version.",
)
terminal_blp = Blueprint(
    "terminal-catalogs",
    __name__,
    url_prefix="/api/v1/terminal",
    description="Catalogs as terminals sync them: versions, deltas since a version, barcode "
    "lookup (device token or operator session token).",
)


def _settings() -> Settings:
    return Settings.from_config(current_app.config)


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Any:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def errors(*documented: tuple[int, str, str, dict[str, Any] | None]) -> Callable[[Any], Any]:
    """Document a view's error answers: an example of each code, grouped by status."""
    by_status: dict[int, list[tuple[str, str, dict[str, Any] | None]]] = {}
    for status, code, message, details in documented:
        by_status.setdefault(status, []).append((code, message, details))

    def decorator(fn: Any) -> Any:
        for status, answers in by_status.items():
            fn = blp.alt_response(
                status,
                schema=ErrorSchema,
                description="; ".join(f"`{code}`: {message}" for code, message, _ in answers),
                examples={
                    code: {"value": _error(status, code, message, details)}
                    for code, message, details in answers
                },
            )(fn)
        return fn

    return decorator


INVALID_ITEMS = (
    422,
    "validation_failed",
    "Item 2 (id 'p-002') of catalog products is not valid: field 'name': Missing data for "
    "required field. 1 item(s) in all; nothing was applied.",
    {"items": {"1": {"name": ["Missing data for required field."]}}},
)
NO_CATALOG = (404, "catalog_not_found", "There is no catalog 'products'.", None)
NO_UPLOAD = (404, "upload_not_found", "There is no upload … of catalog 'products'.", None)


def _catalog_out(catalog: Catalog) -> dict[str, Any]:
    return {
        "name": catalog.name,
        "version": catalog.version,
        "items": catalog.items,
        "updated_at": iso(catalog.updated_at),
    }


def _readable(name: str) -> str:
    """A catalog name from a read's URL; one that no catalog can have is simply not found."""
    if not NAME.fullmatch(name):
        raise NotFound(
            N_("There is no catalog %(name)r.", name=name[:80]), code="catalog_not_found"
        )
    return name


def _limit(value: int | None, settings: Settings) -> int:
    if value is None:
        return settings.page_size_default
    if not 1 <= value <= settings.page_size_max:
        raise Invalid(
            N_("limit must be between 1 and %(cap)s.", cap=settings.page_size_max),
            details={"fields": {"limit": [f"Must be between 1 and {settings.page_size_max}."]}},
        )
    return value


def _delta(tenant_id: int, name: str, args: dict[str, Any]) -> Any:
    """One page of a delta, with its ETag; 304 when the caller has it already."""
    deltas.snapshot()
    catalog = changes.find(tenant_id, _readable(name))
    limit = _limit(args["limit"], _settings())
    tag = deltas.etag(catalog, args["since"], args["after"], limit)
    if request.if_none_match.contains(tag):
        return Response(status=304, headers={"ETag": f'"{tag}"'})
    page = deltas.page(catalog, args["since"], args["after"], limit)
    return as_built(page.body()), 200, {"ETag": f'"{tag}"'}


# -- accounting -------------------------------------------------------------------------------


@blp.route("")
class CatalogsView(MethodView):
    @authenticated("accounting")
    @blp.response(200, CatalogList)
    def get(self) -> dict[str, Any]:
        """List the tenant's catalogs with their versions and item counts."""
        return {"catalogs": [_catalog_out(c) for c in deltas.catalogs(identity().tenant_id)]}


@blp.route("/<name>")
class CatalogView(MethodView):
    @authenticated("accounting")
    @blp.response(200, CatalogOut)
    @errors(NO_CATALOG)
    def get(self, name: str) -> dict[str, Any]:
        """Show a catalog: its version and how many items it holds."""
        return _catalog_out(changes.find(identity().tenant_id, _readable(name)))


@blp.route("/<name>/items")
class ItemsView(MethodView):
    @authenticated("accounting")
    @blp.arguments(DeltaQuery, location="query")
    @blp.response(200, DeltaOut)
    @errors(NO_CATALOG)
    def get(self, args: dict[str, Any], name: str) -> Any:
        """Read the items (since=0) or the changes since a version, as terminals do."""
        return _delta(identity().tenant_id, name, args)

    @authenticated("accounting")
    @blp.arguments(ItemsIn, example={"items": [PRODUCT_EXAMPLE]})
    @blp.response(
        200,
        ChangeOut,
        example={"catalog": "products", "version": 7, "upserted": 1, "changed": 1, "deleted": 0},
    )
    @errors(
        INVALID_ITEMS,
        (
            413,
            "body_too_large",
            "The request body is over the limit of 10485760 bytes; send fewer documents or "
            "lines per request.",
            None,
        ),
    )
    def put(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Merge items (upsert by id) atomically, as one new version.

        Items whose content did not change keep their version; a call that changes nothing
        makes no new version.
        """
        with transaction():
            applied = changes.merge(
                identity().tenant_id, name, data["items"], _settings(), utcnow()
            )
        return applied.answer()


@blp.route("/<name>/delete")
class DeleteView(MethodView):
    @authenticated("accounting")
    @blp.arguments(DeleteIn)
    @blp.response(
        200,
        ChangeOut,
        example={"catalog": "products", "version": 8, "upserted": 0, "changed": 0, "deleted": 1},
    )
    @errors(NO_CATALOG)
    def post(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Delete items by id atomically, as one new version (terminals get tombstones)."""
        with transaction():
            applied = changes.remove(identity().tenant_id, name, data["ids"], _settings(), utcnow())
        return applied.answer()


@blp.route("/<name>/uploads")
class UploadsView(MethodView):
    @authenticated("accounting")
    @blp.arguments(UploadIn, example={"mode": "mirror", "packets": 3})
    @blp.response(201, UploadOut)
    @errors(
        (
            422,
            "too_many_packets",
            "An upload has 1 to 1000 packets of at most 5000 items; 2000 were announced.",
            {"limit": 1000, "packets": 2000},
        )
    )
    def post(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Open an upload in packets (`merge` or `mirror`); it expires if not committed."""
        now = utcnow()
        with transaction():
            upload = uploads.open_upload(
                identity().tenant_id, name, data["mode"], data["packets"], _settings(), now
            )
            return _upload_out(upload)


def _upload_out(upload: Any) -> dict[str, Any]:
    out = uploads.status(upload, utcnow())
    out["expires_at"] = iso(out["expires_at"])
    return out


@blp.route("/<name>/uploads/<upload_id>")
class UploadView(MethodView):
    @authenticated("accounting")
    @blp.response(200, UploadOut)
    @errors(NO_UPLOAD)
    def get(self, name: str, upload_id: str) -> dict[str, Any]:
        """Show an upload: packets received and missing, and the commit's answer once made."""
        upload = uploads.get(identity().tenant_id, name, path_id(upload_id, "upload"))
        return _upload_out(upload)


@blp.route("/<name>/uploads/<upload_id>/packets/<int:number>")
class PacketView(MethodView):
    @authenticated("accounting")
    @blp.arguments(ItemsIn)
    @blp.response(200, PacketOut, example={"packet": 1, "items": 5000})
    @errors(
        INVALID_ITEMS,
        NO_UPLOAD,
        (
            409,
            "packet_conflict",
            "Packet 1 of upload … was already received with other items; a packet cannot "
            "change. Open a new upload to send different data.",
            {"packet": 1},
        ),
    )
    def put(self, data: dict[str, Any], name: str, upload_id: str, number: int) -> dict[str, Any]:
        """Send packet `number` (1-based); sending the same packet again is harmless."""
        with transaction():
            got = uploads.put_packet(
                identity().tenant_id,
                name,
                path_id(upload_id, "upload"),
                number,
                data["items"],
                _settings(),
                utcnow(),
            )
        return {"packet": got.number, "items": got.items}


@blp.route("/<name>/uploads/<upload_id>/commit")
class CommitView(MethodView):
    @authenticated("accounting")
    @blp.arguments(CommitIn, example={"confirm_deletions": False})
    @blp.response(
        200,
        ChangeOut,
        example={
            "catalog": "products",
            "version": 9,
            "upserted": 15000,
            "changed": 15000,
            "deleted": 12,
        },
    )
    @errors(
        NO_UPLOAD,
        (
            409,
            "deletions_need_confirmation",
            "This mirror would delete 4200 of the 15000 items of catalog products. Nothing was "
            'changed; commit again with "confirm_deletions": true to apply it.',
            {"deletions": 4200, "items": 15000, "sample": ["p-0001", "p-0002"]},
        ),
        (
            409,
            "packets_missing",
            "Upload … lacks packet(s) 2 of 3; send them, then commit.",
            {"missing": [2]},
        ),
        (
            409,
            "upload_expired",
            "Upload … expired at 2026-12-08 10:15 UTC without a commit; open a new one.",
            None,
        ),
        (
            422,
            "duplicate_ids",
            "Item id 'p-001' is in more than one packet; send each item once.",
            {"ids": ["p-001"]},
        ),
    )
    def post(self, data: dict[str, Any], name: str, upload_id: str) -> dict[str, Any]:
        """Apply all packets atomically as one new version; repeating the commit is harmless."""
        with transaction():
            return uploads.commit(
                identity().tenant_id,
                name,
                path_id(upload_id, "upload"),
                data["confirm_deletions"],
                _settings(),
                utcnow(),
            )


# -- terminals --------------------------------------------------------------------------------


@terminal_blp.route("/catalogs")
class TerminalCatalogsView(MethodView):
    @authenticated("terminal")
    @terminal_blp.response(
        200,
        CatalogList,
        example={"catalogs": [{"name": "products", "version": 9, "items": 15000}]},
    )
    @terminal_blp.alt_response(304, description="No catalog changed since the ETag sent.")
    def get(self) -> Any:
        """List the catalogs with their versions: sync those whose version moved."""
        tenant_id = identity().tenant_id
        found = deltas.catalogs(tenant_id)
        tag = deltas.list_etag(tenant_id, found)
        if request.if_none_match.contains(tag):
            return Response(status=304, headers={"ETag": f'"{tag}"'})
        body = {"catalogs": [_catalog_out(c) for c in found]}
        return body, 200, {"ETag": f'"{tag}"'}


@terminal_blp.route("/catalogs/<name>")
class TerminalDeltaView(MethodView):
    @authenticated("terminal")
    @terminal_blp.arguments(DeltaQuery, location="query")
    @terminal_blp.response(
        200,
        DeltaOut,
        example={
            "catalog": "products",
            "version": 9,
            "items": [PRODUCT_EXAMPLE],
            "deleted": ["p-002"],
            "next": None,
        },
    )
    @terminal_blp.alt_response(304, description="This page has not changed since the ETag sent.")
    @terminal_blp.alt_response(
        410,
        schema=ErrorSchema,
        description="`resync_required`: deletions since `since` were purged; reload with since=0.",
        example=_error(
            410,
            "resync_required",
            "Deletions from catalog products before version 40 were purged, so changes since "
            "version 7 cannot be told; reload it in full with since=0.",
            {"since": 7, "purged_through": 40},
        ),
    )
    def get(self, args: dict[str, Any], name: str) -> Any:
        """Page the items changed since a version (deleted ones as ids); since=0 is everything.

        Follow `next` (as `after`, with the same `since`) until it is null, then store
        `version`. Send the last ETag as If-None-Match: an unchanged page answers 304.
        """
        return _delta(identity().tenant_id, name, args)


@terminal_blp.route("/barcodes/<barcode>")
class BarcodeView(MethodView):
    @authenticated("terminal")
    @terminal_blp.response(200, BarcodeOut)
    @terminal_blp.alt_response(
        404,
        schema=ErrorSchema,
        description="`barcode_not_found`: no product or cell has this barcode.",
        example=_error(
            404, "barcode_not_found", "Barcode 4600000000000 is in no catalog of this relay."
        ),
    )
    def get(self, barcode: str) -> dict[str, Any]:
        """Resolve a barcode to its product (with the packaging's factor and unit) or cell."""
        if not 1 <= len(barcode) <= 100 or "\x00" in barcode:
            raise NotFound(
                N_("Barcode %(barcode)s is in no catalog of this relay.", barcode=barcode[:100]),
                code="barcode_not_found",
            )
        return barcodes.lookup(identity().tenant_id, barcode)
