"""advisor changes made in chat (/advisor add|remove, two-person rule)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types: a migration never imports the models.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "advisor_changes",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposer_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_advisor_changes_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisor_changes")),
        sa.UniqueConstraint("address_hash", name=op.f("uq_advisor_changes_address_hash")),
    )


def downgrade() -> None:
    op.drop_table("advisor_changes")
