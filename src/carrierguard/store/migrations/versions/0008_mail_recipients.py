"""Recipients and the filter strength each chose (pillar M, M1 and M3).

Revision ID: 0008_mail_recipients
Revises: 0007_merge_mail
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_mail_recipients"
down_revision = "0007_merge_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_recipients",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("strength", sa.String(16), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_mail_recipients_unset", "mail_recipients", ["strength", "address"])


def downgrade() -> None:
    op.drop_index("ix_mail_recipients_unset", table_name="mail_recipients")
    op.drop_table("mail_recipients")
