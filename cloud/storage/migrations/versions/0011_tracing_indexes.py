"""Tracing's place-and-time indexes also hold the end of each stay (and, on PostgreSQL, the person).

The encounter scan reads a venue's stays that started up to 12 h (the longest stay) before a presence, but
keeps only those still there when it began: with `present_until` in the key that test runs on the index
entries, so only the overlapping stays are fetched from the table, and with the identity hash included an
index-only scan can skip the table altogether once the visibility map covers it. The old (venue, start)
indexes are prefixes of the new ones and go.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_checkins_venue_id_checked_in_at_present_until",
        "checkins",
        ["venue_id", "checked_in_at", "present_until"],
        postgresql_include=["identity_hash"],
    )
    op.drop_index("ix_checkins_venue_id_checked_in_at", table_name="checkins")
    op.create_index(
        "ix_crossings_venue_id_crossed_at_present_until",
        "crossings",
        ["venue_id", "crossed_at", "present_until"],
        postgresql_include=["identity_hash"],
    )
    op.drop_index("ix_crossings_venue_id_crossed_at", table_name="crossings")


def downgrade() -> None:
    op.create_index("ix_crossings_venue_id_crossed_at", "crossings", ["venue_id", "crossed_at"])
    op.drop_index("ix_crossings_venue_id_crossed_at_present_until", table_name="crossings")
    op.create_index("ix_checkins_venue_id_checked_in_at", "checkins", ["venue_id", "checked_in_at"])
    op.drop_index("ix_checkins_venue_id_checked_in_at_present_until", table_name="checkins")
