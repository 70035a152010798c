"""Small sealed secrets of the bot itself (Matrix store key, cross-signing seeds).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:17:52.335639
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "bot_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "data_key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("value_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_bot_secrets_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bot_secrets")),
    )


def downgrade() -> None:
    op.drop_table("bot_secrets")
