"""Hardening: failure counters shared by every worker; lockouts per operator and device;
webhook secrets sealed at rest; how a result's chain went.

Rate limits were counted in each gunicorn worker's memory, so the limit grew with the number
of workers; they are now rows of ``failure_counters``. A user's lockout moves there too,
counted per login and device, so the two columns on ``users`` go. Webhook signing secrets
stored in clear are sealed with the key derived from RELAY_SECRET_KEY (downgrade opens them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:00:00

"""

import base64

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0007"
down_revision = "0006"
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
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("chain", JSON, nullable=True))
    keys = _keys()
    _change_secrets(
        lambda value: keys.encrypt(value.encode()).decode() if value.startswith(CLEAR) else value
    )


def downgrade():
    keys = _keys()
    _change_secrets(
        lambda value: value if value.startswith(CLEAR) else keys.decrypt(value.encode()).decode()
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("failed_logins", server_default=None)
    with op.batch_alter_table("results") as batch:
        batch.drop_column("chain")
    op.drop_table("failure_counters")


ENDPOINTS = sa.table(
    "webhook_endpoints",
    sa.column("tenant_id", sa.Integer),
    sa.column("secret", sa.String),
    sa.column("previous_secret", sa.String),
)


# As relay.online.sealing seals (v1), written out so this revision keeps its meaning.
CLEAR = "whsec_"
INFO = b"relay/webhook-secrets/v1"


def _keys():
    config = current_app.config
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, str):
        fallbacks = [fallbacks]
    fernets = []
    for key in [config["SECRET_KEY"], *fallbacks]:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
            str(key).encode()
        )
        fernets.append(Fernet(base64.urlsafe_b64encode(raw)))
    return MultiFernet(fernets)


def _change_secrets(change):
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(ENDPOINTS.c.tenant_id, ENDPOINTS.c.secret, ENDPOINTS.c.previous_secret)
    ).all()
    for row in rows:
        connection.execute(
            ENDPOINTS.update()
            .where(ENDPOINTS.c.tenant_id == row.tenant_id)
            .values(
                secret=change(row.secret),
                previous_secret=change(row.previous_secret) if row.previous_secret else None,
            )
        )
