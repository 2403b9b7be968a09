"""Sites: remember when an offline spell's hub_offline alerts were opened (they wait for a grace period).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site_status") as batch:
        batch.add_column(sa.Column("alerted_at", UtcDateTime, nullable=True))
    # Sites offline before this revision alerted at once, as the hub did then.
    op.execute("UPDATE site_status SET alerted_at = updated_at WHERE state = 'offline'")


def downgrade() -> None:
    with op.batch_alter_table("site_status") as batch:
        batch.drop_column("alerted_at")
