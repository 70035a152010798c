"""a referral blocked by narrowed consent"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0009"
down_revision: str | None = "0008"


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add several columns in one ALTER otherwise.
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("blocked_at", columns.UTC_TIME, nullable=True))
        batch.add_column(sa.Column("blocked_from", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("blocked_to", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("blocked_to")
        batch.drop_column("blocked_from")
        batch.drop_column("blocked_at")
