"""Alert notes: no schema change.

An officer's note is an `alert_timeline` row of kind `note` and an `alert_changes` row of kind `noted`; both
kind columns are VARCHAR(16) with no CHECK constraint, so the existing tables hold them as they are. The
revision stays so that the chain records when notes arrived.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change (see the module docstring)."""


def downgrade() -> None:
    """Nothing to undo."""
