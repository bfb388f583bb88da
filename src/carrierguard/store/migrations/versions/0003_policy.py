"""Policy versions.

Revision ID: 0003_policy
Revises: 0002_cases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_policy"
down_revision = "0002_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("toml", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_versions")
