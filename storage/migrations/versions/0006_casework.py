"""casework: case tags and outcome, statistics rows, partners, referrals

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types: a migration never imports the models.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("tags_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("outcome_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("stats_id", ID, nullable=True))
    op.create_table(
        "case_stats",
        sa.Column("id", ID, autoincrement=False, nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_stats")),
    )
    op.create_index(op.f("ix_case_stats_opened_month"), "case_stats", ["opened_month"])
    op.create_index(op.f("ix_case_stats_closed_month"), "case_stats", ["closed_month"])
    op.create_table(
        "partners",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("kinds", sa.String(length=500), nullable=False),
        sa.Column("regions", sa.String(length=1000), nullable=False),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("contact_enc", sa.LargeBinary(), nullable=True),
        sa.Column("notes_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_partners_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name_hash", name=op.f("uq_partners_name_hash")),
    )
    op.create_table(
        "referrals",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("partner_id", ID, nullable=True),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_referrals_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_referrals_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_referrals_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("ref", name=op.f("uq_referrals_ref")),
    )
    op.create_index(op.f("ix_referrals_case_id"), "referrals", ["case_id"])
    op.create_index(op.f("ix_referrals_partner_id"), "referrals", ["partner_id"])
    op.create_index(op.f("ix_referrals_state"), "referrals", ["state"])


def downgrade() -> None:
    op.drop_table("referrals")
    op.drop_table("partners")
    op.drop_index(op.f("ix_case_stats_closed_month"), table_name="case_stats")
    op.drop_index(op.f("ix_case_stats_opened_month"), table_name="case_stats")
    op.drop_table("case_stats")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("stats_id")
        batch.drop_column("outcome_enc")
        batch.drop_column("tags_enc")
