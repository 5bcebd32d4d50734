"""A scanned barcode resolved to its product (with the packaging's unit and factor) or cell."""

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, select

from relay.errors import N_, NotFound
from relay.extensions import db
from relay.models import CatalogBarcode, CatalogItem

# Products before cells when one code is both; then by catalog and id, so the answer is stable.
_KIND_ORDER = {"product": 0, "cell": 1}


def _number(value: Decimal | None) -> int | Decimal | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else value.normalize()


def carrying(tenant_id: int, barcode: str, *columns: Any) -> Select[Any]:
    """The barcode index's rows for ``barcode`` (one probe), each with ``columns`` of its item."""
    return (
        select(CatalogBarcode, *columns)
        .join(
            CatalogItem,
            and_(
                CatalogItem.tenant_id == CatalogBarcode.tenant_id,
                CatalogItem.catalog == CatalogBarcode.catalog,
                CatalogItem.id == CatalogBarcode.item_id,
            ),
        )
        .where(CatalogBarcode.tenant_id == tenant_id, CatalogBarcode.barcode == barcode)
    )


def lookup(tenant_id: int, barcode: str) -> dict[str, Any]:
    """Find what a barcode names: one probe of the barcode index, joined to its item."""
    rows = list(db.session.execute(carrying(tenant_id, barcode, CatalogItem.data)))
    if not rows:
        raise NotFound(
            N_("Barcode %(barcode)s is in no catalog of this relay.", barcode=barcode[:100]),
            code="barcode_not_found",
        )
    rows.sort(key=lambda r: (_KIND_ORDER[r[0].kind], r[0].catalog, r[0].item_id))
    found, data = rows[0]
    item = {"id": found.item_id, **(data or {})}
    if found.kind == "product":
        return {
            "type": "product",
            "barcode": found.barcode,
            "catalog": found.catalog,
            "factor": _number(found.factor) or 1,
            "unit": found.unit or item.get("unit"),
            "item": item,
            "matches": len(rows),
        }
    return {
        "type": "cell",
        "barcode": found.barcode,
        "catalog": found.catalog,
        "factor": None,
        "unit": None,
        "item": item,
        "matches": len(rows),
    }
