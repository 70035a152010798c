"""Small sealed secrets of the bot itself (Matrix store key, cross-signing seeds).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:17:52.335639
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "bot_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        columns.data_key(),
        sa.Column("value_enc", sa.LargeBinary(), nullable=False),
        *columns.timestamps(),
        columns.data_key_foreign_key("bot_secrets"),
        columns.primary_key("bot_secrets", "name"),
    )


def downgrade() -> None:
    columns.drop_table("bot_secrets")
