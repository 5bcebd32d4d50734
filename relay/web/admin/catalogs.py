"""Catalogs: versions and counts, uploads in progress, items paged, an item, find by barcode."""

from typing import Any

from flask import abort, request, url_for

from relay.catalogs import browse
from relay.timeutil import utcnow
from relay.web.admin.base import PAGE_SIZE, bp, render, signed


@bp.route("/catalogs")
def catalogs() -> Any:
    """The tenant's catalogs; with ``barcode``, the items that barcode names."""
    tenant_id = signed().tenant_id
    barcode = request.args.get("barcode", "").strip()[:100]
    return render(
        "admin/catalogs/list.html",
        catalogs=browse.summaries(tenant_id, utcnow()),
        barcode=barcode,
        matches=browse.by_barcode(tenant_id, barcode) if barcode else None,
    )


@bp.route("/catalogs/<name>")
def catalog(name: str) -> Any:
    """A catalog's live items in id order, a page at a time; ``q`` finds by id or name."""
    tenant_id = signed().tenant_id
    query = request.args.get("q", "").strip()[:200]
    after = request.args.get("after") or None
    found = browse.items(tenant_id, name, query=query, after=after, limit=PAGE_SIZE)
    summary = next((s for s in browse.summaries(tenant_id, utcnow()) if s.name == name), None)
    args: dict[str, Any] = {"q": query} if query else {}
    return render(
        "admin/catalogs/items.html",
        name=name,
        summary=summary,
        rows=found.rows,
        query=query,
        scanned=found.scanned,
        scan_rows=browse.SCAN_ROWS,
        searched_all=found.next is None,
        first_page=after is None,
        next_url=url_for("admin.catalog", name=name, after=found.next, **args)
        if found.next
        else None,
    )


@bp.route("/catalogs/<name>/items/<path:item_id>")
def catalog_item(name: str, item_id: str) -> Any:
    """One item: its fields, its barcodes with their packaging, its version."""
    found = browse.item(signed().tenant_id, name, item_id)
    if found is None:
        abort(404)
    return render(
        "admin/catalogs/item.html",
        item=found,
        barcode=request.args.get("barcode", ""),
    )
