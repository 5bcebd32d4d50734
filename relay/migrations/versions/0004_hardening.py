"""Hardening: failure counters shared by every worker; lockouts per operator and device.

Rate limits were counted in each gunicorn worker's memory, so the limit grew with the number
of workers; they are now rows of ``failure_counters``. A user's lockout moves there too,
counted per login and device, so the two columns on ``users`` go.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 03:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "failure_counters",
        sa.Column("tenant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=40), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "scope", "subject", "holder", name=op.f("pk_failure_counters")
        ),
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("failed_logins", server_default=None)
    op.drop_table("failure_counters")
