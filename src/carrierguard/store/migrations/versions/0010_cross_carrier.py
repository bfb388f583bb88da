"""Cross-carrier count (C1): the hub's token registry and a carrier's publishing state.

Revision ID: 0010_cross_carrier
Revises: 0009_mail_quarantine
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
revision = "0010_cross_carrier"
down_revision = "0009_mail_quarantine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xc_holdings",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("carrier", sa.String(100), primary_key=True),
        sa.Column("voice", sa.Integer, nullable=False),
        sa.Column("data_sms", sa.Integer, nullable=False),
        sa.Column("data", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "xc_published",
        sa.Column("holder_id", ID, sa.ForeignKey("holders.id"), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("voice", sa.Integer, nullable=False),
        sa.Column("data_sms", sa.Integer, nullable=False),
        sa.Column("data", sa.Integer, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        # The holder's identity key changed (``identity rekey``): send its new token, and
        # withdraw the old one, even though its lines did not change.
        sa.Column("stale", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # Our holders that share a token are published as a sum (store.crosscarrier).
    op.create_index("ix_xc_published_token", "xc_published", ["token"])
    # An incremental publish looks for lines changed since its watermark.
    op.create_index("ix_lines_updated_at", "lines", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_lines_updated_at", table_name="lines")
    op.drop_index("ix_xc_published_token", table_name="xc_published")
    op.drop_table("xc_published")
    op.drop_table("xc_holdings")
