"""safety check-ins

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.columns import (
    ID,
    UTC_TIME,
    create_indexes,
    drop_table,
    foreign_key,
    key,
    primary_key,
    timestamps,
)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "checkins",
        key(),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=16), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("grace_s", sa.Integer(), nullable=False),
        sa.Column("ends_at", UTC_TIME, nullable=False),
        sa.Column("asked_at", UTC_TIME, nullable=True),
        sa.Column("last_answer_at", UTC_TIME, nullable=True),
        sa.Column("missed_at", UTC_TIME, nullable=True),
        sa.Column("duress_hash", sa.String(length=64), nullable=True),
        *timestamps(),
        foreign_key("checkins", "account_id", "accounts", "CASCADE"),
        foreign_key("checkins", "case_id", "cases", "CASCADE"),
        primary_key("checkins"),
    )
    create_indexes("checkins", "account_id", "case_id", "state")


def downgrade() -> None:
    drop_table("checkins", "account_id", "case_id", "state")
