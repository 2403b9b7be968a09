"""PostgreSQL: leave free space in the pages of the tables ingest updates in place.

Every ingest batch rewrites each touched alert, device condition and device row. With full pages (fillfactor
100) PostgreSQL puts each new row version on another page and adds an entry to every index of the table;
with room left on the page it makes a heap-only (HOT) update and touches no index. Existing pages keep their
layout until they are rewritten (VACUUM FULL or pg_repack); new pages get the headroom at once. SQLite has no
such setting: nothing changes there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

from cloud.storage.schema import UPDATE_HEADROOM_FILLFACTOR

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("alerts", "device_conditions", "devices")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {UPDATE_HEADROOM_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
