"""broadcast engine: outbox platform and buttons, broadcast headers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:00:00.000000

Outbox rows written before this revision have no ``platform``; the
dispatcher fills it in at start (the address is sealed, so SQL cannot).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types: a migration never imports the models.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("options_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("platform", sa.String(length=16), nullable=True))
        batch.create_index("ix_outbox_platform_status", ["platform", "status"], unique=False)
    op.create_table(
        "broadcasts",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("report_to_enc", sa.LargeBinary(), nullable=False),
        sa.Column("progress_enc", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("finished_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_broadcasts_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        sa.UniqueConstraint("kind", "ref", name=op.f("uq_broadcasts_kind_ref")),
    )
    op.create_index(op.f("ix_broadcasts_state"), "broadcasts", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_broadcasts_state"), table_name="broadcasts")
    op.drop_table("broadcasts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_platform_status")
        batch.drop_column("platform")
        batch.drop_column("options_enc")
