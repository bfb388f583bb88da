"""Registry core: holders, applications, lines, idempotency keys, API keys.

Revision ID: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "holders",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("identity_key", sa.String(64), nullable=False),
        sa.Column("pii", sa.LargeBinary, nullable=False),
        sa.Column("risk_flags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("identity_key", name="uq_holders_identity_key"),
    )
    op.create_table(
        "applications",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("holder_id", ID, sa.ForeignKey("holders.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("usage", sa.Text, nullable=False),
        sa.Column("escalate_to_hq", sa.Boolean, nullable=False),
        sa.Column("requires_actual_users", sa.Boolean, nullable=False),
        sa.Column("kyc_method", sa.String(32)),
        sa.Column("submitted_by", sa.Integer),
        sa.Column("applied_on", sa.Date, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS),
    )
    op.create_index("ix_applications_holder_id", "applications", ["holder_id"])
    op.create_table(
        "lines",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("holder_id", ID, sa.ForeignKey("holders.id"), nullable=False),
        sa.Column("application_id", ID, sa.ForeignKey("applications.id")),
        sa.Column("sim_type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_on", sa.Date),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_lines_holder_id_state", "lines", ["holder_id", "state"])
    op.create_index("ix_lines_application_id", "lines", ["application_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("application_id", ID, sa.ForeignKey("applications.id")),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )


def downgrade() -> None:
    for table in ("api_keys", "idempotency_keys", "lines", "applications", "holders"):
        op.drop_table(table)
