"""broadcast engine: outbox platform and buttons, broadcast headers

Outbox rows written before this revision have no ``platform``; the
dispatcher fills it in at start (the address is sealed, so SQL cannot).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("options_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("platform", sa.String(length=16), nullable=True))
        batch.create_index("ix_outbox_platform_status", ["platform", "status"], unique=False)
    op.create_table(
        "broadcasts",
        columns.key(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        columns.data_key(),
        sa.Column("report_to_enc", sa.LargeBinary(), nullable=False),
        sa.Column("progress_enc", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        *columns.timestamps(),
        sa.Column("finished_at", columns.UTC_TIME, nullable=True),
        columns.data_key_foreign_key("broadcasts"),
        columns.primary_key("broadcasts"),
        columns.unique("broadcasts", "kind", "ref"),
    )
    columns.create_indexes("broadcasts", "state")


def downgrade() -> None:
    columns.drop_table("broadcasts", "state")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_platform_status")
        batch.drop_column("platform")
        batch.drop_column("options_enc")
