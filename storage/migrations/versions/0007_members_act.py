"""members act: proposals, subscriptions, appeal notes (outcome) and recipients

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:23:29.506380

New tables only; nothing existing changes, so no data moves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types: a migration never imports the models.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["member_groups.id"],
            name=op.f("fk_subscriptions_group_id_member_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "group_id", "key", "value", name=op.f("uq_subscriptions_group_id_key_value")
        ),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_group_id"), ["group_id"], unique=False)

    op.create_table(
        "appeal_notes",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["appeals.id"],
            name=op.f("fk_appeal_notes_appeal_id_appeals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal_notes")),
        sa.UniqueConstraint(
            "appeal_id", "kind", "language", name=op.f("uq_appeal_notes_appeal_id_kind_language")
        ),
    )
    op.create_table(
        "appeal_recipients",
        sa.Column("appeal_id", ID, autoincrement=False, nullable=False),
        sa.Column("group_id", ID, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["appeals.id"],
            name=op.f("fk_appeal_recipients_appeal_id_appeals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["member_groups.id"],
            name=op.f("fk_appeal_recipients_group_id_member_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("appeal_id", "group_id", name=op.f("pk_appeal_recipients")),
    )
    op.create_table(
        "proposals",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("appeal_id", ID, nullable=True),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("proposer", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("files_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["appeals.id"],
            name=op.f("fk_proposals_appeal_id_appeals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_proposals_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_proposals_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["member_groups.id"],
            name=op.f("fk_proposals_group_id_member_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_proposals_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
        sa.UniqueConstraint("ref", name=op.f("uq_proposals_ref")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposals_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_proposals_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_state"))
        batch_op.drop_index(batch_op.f("ix_proposals_organisation_id"))

    op.drop_table("proposals")
    op.drop_table("appeal_recipients")
    op.drop_table("appeal_notes")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_group_id"))

    op.drop_table("subscriptions")
