"""members act: proposals, subscriptions, appeal notes (outcome) and recipients

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:23:29.506380

New tables only; nothing existing changes, so no data moves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.columns import (
    ID,
    UTC_TIME,
    create_indexes,
    data_key,
    data_key_foreign_key,
    drop_table,
    foreign_key,
    key,
    primary_key,
    timestamps,
    unique,
)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        key(),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        foreign_key("subscriptions", "group_id", "member_groups", "CASCADE"),
        primary_key("subscriptions"),
        unique("subscriptions", "group_id", "key", "value"),
    )
    create_indexes("subscriptions", "group_id")
    op.create_table(
        "appeal_notes",
        key(),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        foreign_key("appeal_notes", "appeal_id", "appeals", "CASCADE"),
        primary_key("appeal_notes"),
        unique("appeal_notes", "appeal_id", "kind", "language"),
    )
    op.create_table(
        "appeal_recipients",
        key("appeal_id"),
        key("group_id"),
        foreign_key("appeal_recipients", "appeal_id", "appeals", "CASCADE"),
        foreign_key("appeal_recipients", "group_id", "member_groups", "CASCADE"),
        primary_key("appeal_recipients", "appeal_id", "group_id"),
    )
    op.create_table(
        "proposals",
        key(),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("appeal_id", ID, nullable=True),
        data_key(),
        sa.Column("proposer", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("files_enc", sa.LargeBinary(), nullable=True),
        *timestamps(),
        foreign_key("proposals", "appeal_id", "appeals", "SET NULL"),
        foreign_key("proposals", "case_id", "cases", "SET NULL"),
        data_key_foreign_key("proposals"),
        foreign_key("proposals", "group_id", "member_groups", "SET NULL"),
        foreign_key("proposals", "organisation_id", "organisations", "CASCADE"),
        primary_key("proposals"),
        unique("proposals", "ref"),
    )
    create_indexes("proposals", "organisation_id", "state")


def downgrade() -> None:
    drop_table("proposals", "organisation_id", "state")
    drop_table("appeal_recipients")
    drop_table("appeal_notes")
    drop_table("subscriptions", "group_id")
