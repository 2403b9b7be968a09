"""Pooled samples by member: an index on sample_members.identity_hash.

A person's health QR status reads the negative pools they were in (cloud/storage/health.py); the table's
key leads with the sample id, so that lookup scanned every pool membership.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sample_members_identity_hash", "sample_members", ["identity_hash"])


def downgrade() -> None:
    op.drop_index("ix_sample_members_identity_hash", table_name="sample_members")
