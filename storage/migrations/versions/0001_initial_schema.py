"""initial schema"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations import columns

GENESIS_HASH = "0" * 64


revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        columns.primary_key("audit_head"),
    )
    # The chain starts from a fixed genesis hash; appends lock this row.
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", columns.UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_ref", sa.String(length=64), nullable=True),
        sa.Column("detail_enc", sa.LargeBinary(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        columns.primary_key("audit_log", "seq"),
    )
    op.create_table(
        "callback_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("key_enc", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", columns.UTC_TIME, nullable=False),
        sa.Column("created_at", columns.UTC_TIME, nullable=False),
        columns.primary_key("callback_tokens", "token_hash"),
    )
    columns.create_indexes("callback_tokens", "expires_at")
    op.create_table(
        "data_keys",
        columns.key(),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=True),
        sa.Column("created_at", columns.UTC_TIME, nullable=False),
        columns.primary_key("data_keys"),
        columns.unique("data_keys", "name"),
    )
    columns.create_indexes("data_keys", "master_key_id")
    op.create_table(
        "deadlines",
        columns.key(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_ref", sa.String(length=64), nullable=False),
        sa.Column("due_at", columns.UTC_TIME, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        *columns.timestamps(),
        columns.primary_key("deadlines"),
        columns.unique("deadlines", "kind", "object_ref"),
    )
    columns.create_indexes("deadlines", "due_at")
    op.create_table(
        "keyring",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("primary_key_id", sa.String(length=16), nullable=False),
        columns.primary_key("keyring"),
    )
    op.create_table(
        "accounts",
        columns.key(),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        columns.data_key(),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("language_hint", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *columns.timestamps(),
        columns.data_key_foreign_key("accounts"),
        columns.primary_key("accounts"),
        columns.unique("accounts", "address_hash"),
    )
    op.create_table(
        "organisations",
        columns.key(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        columns.data_key(),
        sa.Column("country", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("working_groups", sa.String(length=1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *columns.timestamps(),
        columns.data_key_foreign_key("organisations"),
        columns.primary_key("organisations"),
        columns.unique("organisations", "name_hash"),
    )
    op.create_table(
        "outbox",
        columns.key(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("destination_hash", sa.String(length=64), nullable=False),
        sa.Column("destination_enc", sa.LargeBinary(), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        columns.data_key(),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", columns.UTC_TIME, nullable=False),
        sa.Column("claimed_until", columns.UTC_TIME, nullable=True),
        sa.Column("remote_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        *columns.timestamps(),
        sa.Column("sent_at", columns.UTC_TIME, nullable=True),
        columns.data_key_foreign_key("outbox"),
        columns.primary_key("outbox"),
        columns.unique("outbox", "kind", "ref", "destination_hash"),
    )
    columns.create_indexes("outbox", "destination_hash", "status")
    op.create_table(
        "cases",
        columns.key(),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("reporter_account_id", columns.ID, nullable=True),
        columns.data_key(),
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
        *columns.timestamps(),
        sa.Column("acknowledged_at", columns.UTC_TIME, nullable=True),
        sa.Column("followup_at", columns.UTC_TIME, nullable=True),
        sa.Column("closed_at", columns.UTC_TIME, nullable=True),
        sa.Column("withdrawn_at", columns.UTC_TIME, nullable=True),
        columns.data_key_foreign_key("cases"),
        columns.foreign_key("cases", "reporter_account_id", "accounts", "SET NULL"),
        columns.primary_key("cases"),
        columns.unique("cases", "ref"),
    )
    columns.create_indexes(
        "cases", "assignee_hash", "closed_at", "followup_at", "reporter_account_id", "state"
    )
    op.create_table(
        "contacts",
        columns.key(),
        sa.Column("organisation_id", columns.ID, nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("contacts", "organisation_id", "organisations", "CASCADE"),
        columns.primary_key("contacts"),
        columns.unique("contacts", "organisation_id", "address_hash"),
    )
    columns.create_indexes("contacts", "address_hash")
    op.create_table(
        "conversations",
        columns.key("account_id"),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("conversations", "account_id", "accounts", "CASCADE"),
        columns.primary_key("conversations", "account_id"),
    )
    columns.create_indexes("conversations", "updated_at")
    op.create_table(
        "invites",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", columns.ID, nullable=False),
        sa.Column("expires_at", columns.UTC_TIME, nullable=False),
        sa.Column("created_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("invites", "organisation_id", "organisations", "CASCADE"),
        columns.primary_key("invites", "code_hash"),
    )
    columns.create_indexes("invites", "organisation_id")
    op.create_table(
        "member_groups",
        columns.key(),
        sa.Column("organisation_id", columns.ID, nullable=True),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_enc", sa.LargeBinary(), nullable=False),
        columns.data_key(),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        *columns.timestamps(),
        columns.data_key_foreign_key("member_groups"),
        columns.foreign_key("member_groups", "organisation_id", "organisations", "SET NULL"),
        columns.primary_key("member_groups"),
        columns.unique("member_groups", "chat_hash"),
    )
    columns.create_indexes("member_groups", "organisation_id")
    op.create_table(
        "appeals",
        columns.key(),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("case_id", columns.ID, nullable=True),
        columns.data_key(),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("drafter", sa.String(length=32), nullable=False),
        sa.Column("deadline_at", columns.UTC_TIME, nullable=True),
        sa.Column("target_region", sa.String(length=64), nullable=True),
        sa.Column("target_language", sa.String(length=8), nullable=True),
        sa.Column("target_group", sa.String(length=64), nullable=True),
        sa.Column("allow_individuals", sa.Boolean(), nullable=False),
        *columns.timestamps(),
        sa.Column("sent_at", columns.UTC_TIME, nullable=True),
        sa.Column("closed_at", columns.UTC_TIME, nullable=True),
        columns.foreign_key("appeals", "case_id", "cases", "SET NULL"),
        columns.data_key_foreign_key("appeals"),
        columns.primary_key("appeals"),
        columns.unique("appeals", "ref"),
    )
    columns.create_indexes("appeals", "case_id", "state")
    op.create_table(
        "case_cards",
        columns.key(),
        sa.Column("case_id", columns.ID, nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("location_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("case_cards", "case_id", "cases", "CASCADE"),
        columns.primary_key("case_cards"),
        columns.unique("case_cards", "lookup_hash"),
    )
    columns.create_indexes("case_cards", "case_id")
    op.create_table(
        "case_events",
        columns.key(),
        sa.Column("case_id", columns.ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("text_enc", sa.LargeBinary(), nullable=True),
        sa.Column("at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("case_events", "case_id", "cases", "CASCADE"),
        columns.primary_key("case_events"),
        columns.unique("case_events", "case_id", "seq"),
    )
    op.create_table(
        "appeal_texts",
        columns.key(),
        sa.Column("appeal_id", columns.ID, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("appeal_texts", "appeal_id", "appeals", "CASCADE"),
        columns.primary_key("appeal_texts"),
        columns.unique("appeal_texts", "appeal_id", "language"),
    )
    op.create_table(
        "approvals",
        columns.key(),
        sa.Column("appeal_id", columns.ID, nullable=False),
        sa.Column("approver", sa.String(length=32), nullable=False),
        sa.Column("at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("approvals", "appeal_id", "appeals", "CASCADE"),
        columns.primary_key("approvals"),
        columns.unique("approvals", "appeal_id", "approver"),
    )
    op.create_table(
        "attachments",
        columns.key(),
        sa.Column("case_id", columns.ID, nullable=False),
        sa.Column("event_id", columns.ID, nullable=True),
        sa.Column("filename_enc", sa.LargeBinary(), nullable=False),
        sa.Column("mime", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("attachments", "case_id", "cases", "CASCADE"),
        columns.foreign_key("attachments", "event_id", "case_events", "CASCADE"),
        columns.primary_key("attachments"),
    )
    columns.create_indexes("attachments", "case_id", "event_id")
    op.create_table(
        "signatures",
        columns.key(),
        sa.Column("appeal_id", columns.ID, nullable=False),
        sa.Column("organisation_id", columns.ID, nullable=False),
        sa.Column("signer", sa.String(length=32), nullable=False),
        sa.Column("via_group_id", columns.ID, nullable=True),
        sa.Column("at", columns.UTC_TIME, nullable=False),
        columns.foreign_key("signatures", "appeal_id", "appeals", "CASCADE"),
        columns.foreign_key("signatures", "organisation_id", "organisations", "CASCADE"),
        columns.foreign_key("signatures", "via_group_id", "member_groups", "SET NULL"),
        columns.primary_key("signatures"),
        columns.unique("signatures", "appeal_id", "organisation_id"),
    )
    columns.create_indexes("signatures", "organisation_id")


def downgrade() -> None:
    columns.drop_table("signatures", "organisation_id")
    columns.drop_table("attachments", "case_id", "event_id")
    columns.drop_table("approvals")
    columns.drop_table("appeal_texts")
    columns.drop_table("case_events")
    columns.drop_table("case_cards", "case_id")
    columns.drop_table("appeals", "case_id", "state")
    columns.drop_table("member_groups", "organisation_id")
    columns.drop_table("invites", "organisation_id")
    columns.drop_table("conversations", "updated_at")
    columns.drop_table("contacts", "address_hash")
    columns.drop_table(
        "cases", "assignee_hash", "closed_at", "followup_at", "reporter_account_id", "state"
    )
    columns.drop_table("outbox", "destination_hash", "status")
    columns.drop_table("organisations")
    columns.drop_table("accounts")
    columns.drop_table("keyring")
    columns.drop_table("deadlines", "due_at")
    columns.drop_table("data_keys", "master_key_id")
    columns.drop_table("callback_tokens", "expires_at")
    columns.drop_table("audit_log")
    columns.drop_table("audit_head")
