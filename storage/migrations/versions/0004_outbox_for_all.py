"""every outgoing message through the outbox: order, priority, operations

``seq`` orders one chat's messages (ids are random); ``priority`` lets a
reply to a person pass a broadcast's queue (0 people and rooms, 1
broadcasts); ``op`` is what the row does (text, ask, file, delete);
``payload_enc`` holds a file's sealed bytes until it is sent. Rows written
before this revision are broadcasts: priority 1, op text or ask.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="1")
        )
        batch.add_column(
            sa.Column("op", sa.String(length=8), nullable=False, server_default="text")
        )
        batch.add_column(sa.Column("payload_enc", sa.LargeBinary(), nullable=True))
        batch.create_index("ix_outbox_claim", ["platform", "status", "priority", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_claim")
        batch.drop_column("payload_enc")
        batch.drop_column("op")
        batch.drop_column("priority")
        batch.drop_column("seq")
