"""Catalogs: items with the version of their last change, tombstones, barcodes, uploads.

``tenant_id`` leads every key. The delta index ``(tenant_id, catalog, version, id)`` serves a
terminal's ``version > since ORDER BY version, id`` a page at a time, and a barcode lookup is a
probe of the barcode table's primary key.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-07 02:37:37

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.create_table(
        "catalogs",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("purged_through", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalogs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_catalogs")),
    )
    op.create_table(
        "catalog_items",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("catalog", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("data", _json(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "catalog"],
            ["catalogs.tenant_id", "catalogs.name"],
            name=op.f("fk_catalog_items_tenant_id_catalog_catalogs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "catalog", "id", name=op.f("pk_catalog_items")),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_items_delta", ["tenant_id", "catalog", "version", "id"], unique=False
        )
        batch_op.create_index(
            "ix_catalog_items_tombstones",
            ["deleted_at"],
            unique=False,
            sqlite_where=sa.text("deleted = 1"),
            postgresql_where=sa.text("deleted"),
        )
    op.create_table(
        "catalog_barcodes",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=100), nullable=False),
        sa.Column("catalog", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("factor", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.CheckConstraint("kind IN ('product', 'cell')", name=op.f("ck_catalog_barcodes_kind")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "catalog", "item_id"],
            ["catalog_items.tenant_id", "catalog_items.catalog", "catalog_items.id"],
            name=op.f("fk_catalog_barcodes_tenant_id_catalog_item_id_catalog_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "barcode", "catalog", "item_id", name=op.f("pk_catalog_barcodes")
        ),
    )
    with op.batch_alter_table("catalog_barcodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_barcodes_item", ["tenant_id", "catalog", "item_id"], unique=False
        )
    op.create_table(
        "catalog_uploads",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("catalog", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("packets", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", _json(), nullable=True),
        sa.CheckConstraint("mode IN ('merge', 'mirror')", name=op.f("ck_catalog_uploads_mode")),
        sa.CheckConstraint("state IN ('open', 'committed')", name=op.f("ck_catalog_uploads_state")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_catalog_uploads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_catalog_uploads")),
    )
    with op.batch_alter_table("catalog_uploads", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_uploads_expires_at", ["expires_at"], unique=False)
    op.create_table(
        "catalog_packets",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("ids", _json(), nullable=False),
        sa.Column("items", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "upload_id"],
            ["catalog_uploads.tenant_id", "catalog_uploads.id"],
            name=op.f("fk_catalog_packets_tenant_id_upload_id_catalog_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "upload_id", "number", name=op.f("pk_catalog_packets")
        ),
    )


def downgrade():
    op.drop_table("catalog_packets")
    with op.batch_alter_table("catalog_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_uploads_expires_at")
    op.drop_table("catalog_uploads")
    with op.batch_alter_table("catalog_barcodes", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_barcodes_item")
    op.drop_table("catalog_barcodes")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_items_tombstones")
        batch_op.drop_index("ix_catalog_items_delta")
    op.drop_table("catalog_items")
    op.drop_table("catalogs")
