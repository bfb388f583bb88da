"""Cross-carrier hub: each carrier's use per day (evaluations, publishes, queries).

Revision ID: 0011_xc_usage
Revises: 0010_cross_carrier
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_xc_usage"
down_revision = "0010_cross_carrier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xc_usage",
        sa.Column("carrier", sa.String(100), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),  # Tokyo calendar date, ISO
        sa.Column("evaluated", sa.BigInteger, nullable=False),
        sa.Column("published", sa.BigInteger, nullable=False),
        sa.Column("queried", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("xc_usage")
