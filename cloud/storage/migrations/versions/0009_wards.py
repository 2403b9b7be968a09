"""Wards (name, population: coverage's denominator) and an index for tests per ward and day.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wards",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("population", sa.Integer, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wards"),
        sa.CheckConstraint("population > 0", name="ck_wards_population"),
    )
    op.create_index("ix_samples_ward_id_resulted_at", "samples", ["ward_id", "resulted_at"])


def downgrade() -> None:
    op.drop_index("ix_samples_ward_id_resulted_at", table_name="samples")
    op.drop_table("wards")
