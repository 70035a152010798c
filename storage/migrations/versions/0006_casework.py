"""casework: case tags and outcome, statistics rows, partners, referrals"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

revision: str = "0006"
down_revision: str | None = "0005"


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("tags_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("outcome_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("stats_id", columns.ID, nullable=True))
    op.create_table(
        "case_stats",
        columns.key(),
        sa.Column("opened_month", sa.String(length=7), nullable=False),
        sa.Column("closed_month", sa.String(length=7), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("threats", sa.String(length=500), nullable=False),
        sa.Column("perpetrators", sa.String(length=500), nullable=False),
        sa.Column("profiles", sa.String(length=500), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("minutes_to_ack", sa.Integer(), nullable=True),
        sa.Column("minutes_to_action", sa.Integer(), nullable=True),
        sa.Column("appeals", sa.Integer(), nullable=False),
        sa.Column("signatures", sa.Integer(), nullable=False),
        sa.Column("referrals", sa.Integer(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        columns.primary_key("case_stats"),
    )
    columns.create_indexes("case_stats", "opened_month", "closed_month")
    op.create_table(
        "partners",
        columns.key(),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        columns.data_key(),
        sa.Column("kinds", sa.String(length=500), nullable=False),
        sa.Column("regions", sa.String(length=1000), nullable=False),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("contact_enc", sa.LargeBinary(), nullable=True),
        sa.Column("notes_enc", sa.LargeBinary(), nullable=True),
        *columns.timestamps(),
        columns.data_key_foreign_key("partners"),
        columns.primary_key("partners"),
        columns.unique("partners", "name_hash"),
    )
    op.create_table(
        "referrals",
        columns.key(),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("case_id", columns.ID, nullable=False),
        sa.Column("partner_id", columns.ID, nullable=True),
        columns.data_key(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=False),
        *columns.timestamps(),
        columns.foreign_key("referrals", "case_id", "cases", "CASCADE"),
        columns.foreign_key("referrals", "partner_id", "partners", "SET NULL"),
        columns.data_key_foreign_key("referrals"),
        columns.primary_key("referrals"),
        columns.unique("referrals", "ref"),
    )
    columns.create_indexes("referrals", "case_id", "partner_id", "state")


def downgrade() -> None:
    columns.drop_table("referrals")
    columns.drop_table("partners")
    columns.drop_table("case_stats", "opened_month", "closed_month")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("stats_id")
        batch.drop_column("outcome_enc")
        batch.drop_column("tags_enc")
