"""Index applications by time, so a report for one period reads only that period.

Revision ID: 0006_report_index
Revises: 0005_identity
"""

from __future__ import annotations

from alembic import op

revision = "0006_report_index"
down_revision = "0005_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_applications_created_at", "applications", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_applications_created_at", table_name="applications")
