"""Inbox indexes the planners use at any queue length.

The scale benchmark (bench/scale.py) found two inbox sub-queries reading the whole queue at
10^6 documents: on both databases the addressee lookup did not match the partial index's
predicate, and on SQLite the held-instance lookup fell back to the tenant's primary key. The
addressee index now says ``listed = 1`` on SQLite (as SQLAlchemy renders the condition there),
and the held and joined lookups get the id in their index, so each reads its rows in page order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

HELD = "state IN ('claimed', 'cancelled')"


def _index(name, table, columns, sqlite_where, postgresql_where):
    op.drop_index(name, table_name=table)
    op.create_index(
        name,
        table,
        columns,
        unique=False,
        sqlite_where=sa.text(sqlite_where),
        postgresql_where=sa.text(postgresql_where),
    )


def upgrade():
    _index(
        "ix_instance_addressees_inbox",
        "instance_addressees",
        ["tenant_id", "key", "instance_id"],
        "listed = 1",
        "listed",
    )
    _index(
        "ix_instances_held_by_device",
        "instances",
        ["tenant_id", "holder_device_id", "id"],
        HELD,
        HELD,
    )
    _index(
        "ix_instances_held_by_user",
        "instances",
        ["tenant_id", "holder_user_id", "id"],
        HELD,
        HELD,
    )
    _index(
        "ix_parts_open_by_device",
        "parts",
        ["tenant_id", "device_id", "instance_id"],
        "state = 'open'",
        "state = 'open'",
    )


def downgrade():
    _index(
        "ix_parts_open_by_device",
        "parts",
        ["tenant_id", "device_id"],
        "state = 'open'",
        "state = 'open'",
    )
    _index("ix_instances_held_by_user", "instances", ["tenant_id", "holder_user_id"], HELD, HELD)
    _index(
        "ix_instances_held_by_device", "instances", ["tenant_id", "holder_device_id"], HELD, HELD
    )
    _index(
        "ix_instance_addressees_inbox",
        "instance_addressees",
        ["tenant_id", "key", "instance_id"],
        "listed",
        "listed",
    )
