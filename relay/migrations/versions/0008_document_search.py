"""The console's document search by external id or number: two indexes.

The console finds a document by its external id or its number across processes. The unique
key ``(tenant_id, business_process, external_id)`` does not serve that, so the search walked
the tenant's documents newest first until a page was full: ~0.6 s on PostgreSQL and over 10 s
on a cold SQLite file at 10^6 documents when nothing matched (bench/RESULTS.md, "Admin
console"). With ``(tenant_id, external_id)`` and ``(tenant_id, number)`` it is two probes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 06:10:00

"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_documents_tenant_id_external_id", "documents", ["tenant_id", "external_id"])
    op.create_index("ix_documents_tenant_id_number", "documents", ["tenant_id", "number"])


def downgrade():
    op.drop_index("ix_documents_tenant_id_number", table_name="documents")
    op.drop_index("ix_documents_tenant_id_external_id", table_name="documents")
