"""Registry state: named values the registry keeps about itself (the identity key
version, the cross-carrier publish watermark and lease).

Revision ID: 0012_registry_state
Revises: 0011_xc_usage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_registry_state"
down_revision = "0011_xc_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table(
        "registry_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    # An empty registry will be keyed by this build's normaliser; a registry that already
    # holds people was keyed before versions were recorded (version 1; see store.rekey).
    from carrierguard.identity import KEY_VERSION

    anyone = op.get_bind().execute(sa.text("SELECT 1 FROM holders LIMIT 1")).first()
    if anyone is None:
        op.bulk_insert(state, [{"name": "identity_key_version", "value": str(KEY_VERSION)}])


def downgrade() -> None:
    op.drop_table("registry_state")
