"""DMARC results for aggregate reports (pillar M).

Revision ID: 0002_mail
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_mail"
down_revision = "0001_core"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dmarc_results",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_domain", sa.String(253), nullable=False),
        sa.Column("source_ip", sa.String(45), nullable=False),
        sa.Column("header_from", sa.String(253), nullable=False),
        sa.Column("envelope_from", sa.String(253), nullable=False),
        sa.Column("envelope_to", sa.String(253), nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("dmarc_result", sa.String(16), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("dkim_aligned", sa.Boolean, nullable=False),
        sa.Column("spf_aligned", sa.Boolean, nullable=False),
        sa.Column("override", sa.String(32), nullable=False),
        sa.Column("dkim", sa.Text, nullable=False),
        sa.Column("spf", sa.Text, nullable=False),
    )
    op.create_index("ix_dmarc_results_period", "dmarc_results", ["policy_domain", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_dmarc_results_period", table_name="dmarc_results")
    op.drop_table("dmarc_results")
