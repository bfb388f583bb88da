"""The quarantine in the database (pillar M, M4): held messages, sealed, and their reasons.

Revision ID: 0009_mail_quarantine
Revises: 0008_mail_recipients
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_mail_quarantine"
down_revision = "0008_mail_recipients"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_quarantine",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("header_from", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("queue_id", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("phishing_probability", sa.Float, nullable=True),
        sa.Column("feedback", sa.String(16), nullable=False),
        sa.Column("feedback_by", sa.Text, nullable=False),
        sa.Column("released_at", sa.Text, nullable=False),
        sa.Column("released_by", sa.Text, nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("message", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_mail_quarantine_state_received", "mail_quarantine", ["state", "received_at", "id"]
    )
    op.create_index(
        "ix_mail_quarantine_received",
        "mail_quarantine",
        ["received_at", "id", "state", "feedback"],
    )
    op.create_table(
        "mail_quarantine_reasons",
        sa.Column(
            "entry_id",
            sa.String(24),
            sa.ForeignKey("mail_quarantine.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("code", sa.Text, primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("mail_quarantine_reasons")
    op.drop_index("ix_mail_quarantine_received", table_name="mail_quarantine")
    op.drop_index("ix_mail_quarantine_state_received", table_name="mail_quarantine")
    op.drop_table("mail_quarantine")
