"""safety check-ins

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types: a migration never imports the models.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", ID, autoincrement=False, nullable=False),
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
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_checkins_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_checkins_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    op.create_index(op.f("ix_checkins_account_id"), "checkins", ["account_id"], unique=False)
    op.create_index(op.f("ix_checkins_case_id"), "checkins", ["case_id"], unique=False)
    op.create_index(op.f("ix_checkins_state"), "checkins", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_checkins_state"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_case_id"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_account_id"), table_name="checkins")
    op.drop_table("checkins")
