"""The admin console: accounts, sign-in sessions and the audit of changes.

Three indexes serve its overview at any queue length: instances by state (counted up to a
cap), failed chains among the events, and results by completion time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 02:50:00

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _tenant_fk(table):
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade():
    op.create_table(
        "console_accounts",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        _tenant_fk("console_accounts"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_console_accounts")),
        sa.UniqueConstraint("tenant_id", "login", name=op.f("uq_console_accounts_tenant_id_login")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["console_accounts.tenant_id", "console_accounts.id"],
            name=op.f("fk_console_sessions_tenant_id_account_id_console_accounts"),
            ondelete="CASCADE",
        ),
        _tenant_fk("console_sessions"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_console_sessions")),
    )
    op.create_table(
        "console_audit",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        _tenant_fk("console_audit"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_console_audit")),
    )
    with op.batch_alter_table("console_audit", schema=None) as batch_op:
        batch_op.create_index("ix_console_audit_tenant_id_at", ["tenant_id", "at"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_chain_failed",
            ["tenant_id", "at"],
            unique=False,
            sqlite_where=sa.text("kind = 'chain_failed'"),
            postgresql_where=sa.text("kind = 'chain_failed'"),
        )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instances_state_tenant_id_document_id",
            ["state", "tenant_id", "document_id"],
            unique=False,
        )
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_results_tenant_id_completed_at", ["tenant_id", "completed_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_index("ix_results_tenant_id_completed_at")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_chain_failed")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index("ix_instances_state_tenant_id_document_id")
    with op.batch_alter_table("console_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_console_audit_tenant_id_at")
    op.drop_table("console_audit")
    op.drop_table("console_sessions")
    op.drop_table("console_accounts")
