"""members act: proposals, subscriptions, appeal notes (outcome) and recipients

New tables only; nothing existing changes, so no data moves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        columns.key(),
        sa.Column("group_id", columns.ID, nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("created_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("subscriptions", "group_id", "member_groups", "CASCADE"),
        columns.primary_key("subscriptions"),
        columns.unique("subscriptions", "group_id", "key", "value"),
    )
    columns.create_indexes("subscriptions", "group_id")
    op.create_table(
        "appeal_notes",
        columns.key(),
        sa.Column("appeal_id", columns.ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("appeal_notes", "appeal_id", "appeals", "CASCADE"),
        columns.primary_key("appeal_notes"),
        columns.unique("appeal_notes", "appeal_id", "kind", "language"),
    )
    op.create_table(
        "appeal_recipients",
        columns.key("appeal_id"),
        columns.key("group_id"),
        columns.foreign_key("appeal_recipients", "appeal_id", "appeals", "CASCADE"),
        columns.foreign_key("appeal_recipients", "group_id", "member_groups", "CASCADE"),
        columns.primary_key("appeal_recipients", "appeal_id", "group_id"),
    )
    op.create_table(
        "proposals",
        columns.key(),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", columns.ID, nullable=False),
        sa.Column("group_id", columns.ID, nullable=True),
        sa.Column("case_id", columns.ID, nullable=True),
        sa.Column("appeal_id", columns.ID, nullable=True),
        columns.data_key(),
        sa.Column("proposer", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("files_enc", sa.LargeBinary(), nullable=True),
        *columns.timestamps(),
        columns.foreign_key("proposals", "appeal_id", "appeals", "SET NULL"),
        columns.foreign_key("proposals", "case_id", "cases", "SET NULL"),
        columns.data_key_foreign_key("proposals"),
        columns.foreign_key("proposals", "group_id", "member_groups", "SET NULL"),
        columns.foreign_key("proposals", "organisation_id", "organisations", "CASCADE"),
        columns.primary_key("proposals"),
        columns.unique("proposals", "ref"),
    )
    columns.create_indexes("proposals", "organisation_id", "state")


def downgrade() -> None:
    columns.drop_table("proposals", "organisation_id", "state")
    columns.drop_table("appeal_recipients")
    columns.drop_table("appeal_notes")
    columns.drop_table("subscriptions", "group_id")
