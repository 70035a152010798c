"""safety check-ins"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0008"
down_revision: str | None = "0007"


def upgrade() -> None:
    op.create_table(
        "checkins",
        columns.key(),
        sa.Column("account_id", columns.ID, nullable=False),
        sa.Column("case_id", columns.ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=16), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("grace_s", sa.Integer(), nullable=False),
        sa.Column("ends_at", columns.UTC_TIME, nullable=False),
        sa.Column("asked_at", columns.UTC_TIME, nullable=True),
        sa.Column("last_answer_at", columns.UTC_TIME, nullable=True),
        sa.Column("missed_at", columns.UTC_TIME, nullable=True),
        sa.Column("duress_hash", sa.String(length=64), nullable=True),
        *columns.timestamps(),
        columns.foreign_key("checkins", "account_id", "accounts", "CASCADE"),
        columns.foreign_key("checkins", "case_id", "cases", "CASCADE"),
        columns.primary_key("checkins"),
    )
    columns.create_indexes("checkins", "account_id", "case_id", "state")


def downgrade() -> None:
    columns.drop_table("checkins", "account_id", "case_id", "state")
