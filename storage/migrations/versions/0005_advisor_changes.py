"""advisor changes made in chat (/advisor add|remove, two-person rule)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    op.create_table(
        "advisor_changes",
        columns.key(),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=False),
        columns.data_key(),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposer_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", columns.UTC_TIME, nullable=False),
        columns.data_key_foreign_key("advisor_changes"),
        columns.primary_key("advisor_changes"),
        columns.unique("advisor_changes", "address_hash"),
    )


def downgrade() -> None:
    columns.drop_table("advisor_changes")
