"""Small sealed secrets of the bot itself (Matrix store key, cross-signing seeds)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0002"
down_revision: str | None = "0001"


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
