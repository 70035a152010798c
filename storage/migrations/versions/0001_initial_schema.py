"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 19:57:15.144133
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types: a migration never imports the models.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)
GENESIS_HASH = "0" * 64


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain starts from a fixed genesis hash; appends lock this row.
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_ref", sa.String(length=64), nullable=True),
        sa.Column("detail_enc", sa.LargeBinary(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "callback_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("key_enc", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_callback_tokens")),
    )
    op.create_index(
        op.f("ix_callback_tokens_expires_at"), "callback_tokens", ["expires_at"], unique=False
    )
    op.create_table(
        "data_keys",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_data_keys_name")),
    )
    op.create_index(
        op.f("ix_data_keys_master_key_id"), "data_keys", ["master_key_id"], unique=False
    )
    op.create_table(
        "deadlines",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_ref", sa.String(length=64), nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint("kind", "object_ref", name=op.f("uq_deadlines_kind_object_ref")),
    )
    op.create_index(op.f("ix_deadlines_due_at"), "deadlines", ["due_at"], unique=False)
    op.create_table(
        "keyring",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("primary_key_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keyring")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("language_hint", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_accounts_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("address_hash", name=op.f("uq_accounts_address_hash")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("country", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("working_groups", sa.String(length=1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_organisations_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("name_hash", name=op.f("uq_organisations_name_hash")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("destination_hash", sa.String(length=64), nullable=False),
        sa.Column("destination_enc", sa.LargeBinary(), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UTC_TIME, nullable=False),
        sa.Column("claimed_until", UTC_TIME, nullable=True),
        sa.Column("remote_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_outbox_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint(
            "kind", "ref", "destination_hash", name=op.f("uq_outbox_kind_ref_destination_hash")
        ),
    )
    op.create_index(
        op.f("ix_outbox_destination_hash"), "outbox", ["destination_hash"], unique=False
    )
    op.create_index(op.f("ix_outbox_status"), "outbox", ["status"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("reporter_account_id", ID, nullable=True),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("consent", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("verification", sa.String(length=16), nullable=False),
        sa.Column("what_enc", sa.LargeBinary(), nullable=True),
        sa.Column("where_enc", sa.LargeBinary(), nullable=True),
        sa.Column("who_enc", sa.LargeBinary(), nullable=True),
        sa.Column("contact_enc", sa.LargeBinary(), nullable=True),
        sa.Column("close_reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("assignee_hash", sa.String(length=64), nullable=True),
        sa.Column("assignee_enc", sa.LargeBinary(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("acknowledged_at", UTC_TIME, nullable=True),
        sa.Column("followup_at", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("withdrawn_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_cases_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_account_id"],
            ["accounts.id"],
            name=op.f("fk_cases_reporter_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("ref", name=op.f("uq_cases_ref")),
    )
    op.create_index(op.f("ix_cases_assignee_hash"), "cases", ["assignee_hash"], unique=False)
    op.create_index(op.f("ix_cases_closed_at"), "cases", ["closed_at"], unique=False)
    op.create_index(op.f("ix_cases_followup_at"), "cases", ["followup_at"], unique=False)
    op.create_index(
        op.f("ix_cases_reporter_account_id"), "cases", ["reporter_account_id"], unique=False
    )
    op.create_index(op.f("ix_cases_state"), "cases", ["state"], unique=False)
    op.create_table(
        "contacts",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_contacts_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "organisation_id", "address_hash", name=op.f("uq_contacts_organisation_id_address_hash")
        ),
    )
    op.create_index(op.f("ix_contacts_address_hash"), "contacts", ["address_hash"], unique=False)
    op.create_table(
        "conversations",
        sa.Column("account_id", ID, autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_conversations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_conversations")),
    )
    op.create_index(
        op.f("ix_conversations_updated_at"), "conversations", ["updated_at"], unique=False
    )
    op.create_table(
        "invites",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_invites_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_invites")),
    )
    op.create_index(
        op.f("ix_invites_organisation_id"), "invites", ["organisation_id"], unique=False
    )
    op.create_table(
        "member_groups",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("organisation_id", ID, nullable=True),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_enc", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_member_groups_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_member_groups_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_groups")),
        sa.UniqueConstraint("chat_hash", name=op.f("uq_member_groups_chat_hash")),
    )
    op.create_index(
        op.f("ix_member_groups_organisation_id"), "member_groups", ["organisation_id"], unique=False
    )
    op.create_table(
        "appeals",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("data_key_id", ID, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("drafter", sa.String(length=32), nullable=False),
        sa.Column("deadline_at", UTC_TIME, nullable=True),
        sa.Column("target_region", sa.String(length=64), nullable=True),
        sa.Column("target_language", sa.String(length=8), nullable=True),
        sa.Column("target_group", sa.String(length=64), nullable=True),
        sa.Column("allow_individuals", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_appeals_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_appeals_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("ref", name=op.f("uq_appeals_ref")),
    )
    op.create_index(op.f("ix_appeals_case_id"), "appeals", ["case_id"], unique=False)
    op.create_index(op.f("ix_appeals_state"), "appeals", ["state"], unique=False)
    op.create_table(
        "case_cards",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("location_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_cards_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_cards")),
        sa.UniqueConstraint("lookup_hash", name=op.f("uq_case_cards_lookup_hash")),
    )
    op.create_index(op.f("ix_case_cards_case_id"), "case_cards", ["case_id"], unique=False)
    op.create_table(
        "case_events",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("text_enc", sa.LargeBinary(), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_events_case_id_seq")),
    )
    op.create_table(
        "appeal_texts",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["appeals.id"],
            name=op.f("fk_appeal_texts_appeal_id_appeals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal_texts")),
        sa.UniqueConstraint(
            "appeal_id", "language", name=op.f("uq_appeal_texts_appeal_id_language")
        ),
    )
    op.create_table(
        "approvals",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("approver", sa.String(length=32), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["appeals.id"],
            name=op.f("fk_approvals_appeal_id_appeals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("appeal_id", "approver", name=op.f("uq_approvals_appeal_id_approver")),
    )
    op.create_table(
        "attachments",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=True),
        sa.Column("filename_enc", sa.LargeBinary(), nullable=False),
        sa.Column("mime", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attachments_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["case_events.id"],
            name=op.f("fk_attachments_event_id_case_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_case_id"), "attachments", ["case_id"], unique=False)
    op.create_index(op.f("ix_attachments_event_id"), "attachments", ["event_id"], unique=False)
    op.create_table(
        "signatures",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("signer", sa.String(length=32), nullable=False),
        sa.Column("via_group_id", ID, nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"],
            ["appeals.id"],
            name=op.f("fk_signatures_appeal_id_appeals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_signatures_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["via_group_id"],
            ["member_groups.id"],
            name=op.f("fk_signatures_via_group_id_member_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
        sa.UniqueConstraint(
            "appeal_id", "organisation_id", name=op.f("uq_signatures_appeal_id_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_signatures_organisation_id"), "signatures", ["organisation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_signatures_organisation_id"), table_name="signatures")
    op.drop_table("signatures")
    op.drop_index(op.f("ix_attachments_event_id"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_case_id"), table_name="attachments")
    op.drop_table("attachments")
    op.drop_table("approvals")
    op.drop_table("appeal_texts")
    op.drop_table("case_events")
    op.drop_index(op.f("ix_case_cards_case_id"), table_name="case_cards")
    op.drop_table("case_cards")
    op.drop_index(op.f("ix_appeals_state"), table_name="appeals")
    op.drop_index(op.f("ix_appeals_case_id"), table_name="appeals")
    op.drop_table("appeals")
    op.drop_index(op.f("ix_member_groups_organisation_id"), table_name="member_groups")
    op.drop_table("member_groups")
    op.drop_index(op.f("ix_invites_organisation_id"), table_name="invites")
    op.drop_table("invites")
    op.drop_index(op.f("ix_conversations_updated_at"), table_name="conversations")
    op.drop_table("conversations")
    op.drop_index(op.f("ix_contacts_address_hash"), table_name="contacts")
    op.drop_table("contacts")
    op.drop_index(op.f("ix_cases_state"), table_name="cases")
    op.drop_index(op.f("ix_cases_reporter_account_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_followup_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_closed_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_assignee_hash"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_outbox_status"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_destination_hash"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("organisations")
    op.drop_table("accounts")
    op.drop_table("keyring")
    op.drop_index(op.f("ix_deadlines_due_at"), table_name="deadlines")
    op.drop_table("deadlines")
    op.drop_index(op.f("ix_data_keys_master_key_id"), table_name="data_keys")
    op.drop_table("data_keys")
    op.drop_index(op.f("ix_callback_tokens_expires_at"), table_name="callback_tokens")
    op.drop_table("callback_tokens")
    op.drop_table("audit_log")
    op.drop_table("audit_head")
