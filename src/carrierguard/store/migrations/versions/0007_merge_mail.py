"""Join the mail branch (0002_mail) with the registry branch: one head again.

Revision ID: 0007_merge_mail
Revises: 0006_report_index, 0002_mail
"""

from __future__ import annotations

revision = "0007_merge_mail"
down_revision = ("0006_report_index", "0002_mail")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
