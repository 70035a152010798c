"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 19:57:15.144133
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
        primary_key("audit_head"),
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
        primary_key("audit_log", "seq"),
    )
    op.create_table(
        "callback_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("key_enc", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        primary_key("callback_tokens", "token_hash"),
    )
    create_indexes("callback_tokens", "expires_at")
    op.create_table(
        "data_keys",
        key(),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        primary_key("data_keys"),
        unique("data_keys", "name"),
    )
    create_indexes("data_keys", "master_key_id")
    op.create_table(
        "deadlines",
        key(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_ref", sa.String(length=64), nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        *timestamps(),
        primary_key("deadlines"),
        unique("deadlines", "kind", "object_ref"),
    )
    create_indexes("deadlines", "due_at")
    op.create_table(
        "keyring",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("primary_key_id", sa.String(length=16), nullable=False),
        primary_key("keyring"),
    )
    op.create_table(
        "accounts",
        key(),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        data_key(),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("language_hint", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *timestamps(),
        data_key_foreign_key("accounts"),
        primary_key("accounts"),
        unique("accounts", "address_hash"),
    )
    op.create_table(
        "organisations",
        key(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        data_key(),
        sa.Column("country", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("working_groups", sa.String(length=1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *timestamps(),
        data_key_foreign_key("organisations"),
        primary_key("organisations"),
        unique("organisations", "name_hash"),
    )
    op.create_table(
        "outbox",
        key(),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("destination_hash", sa.String(length=64), nullable=False),
        sa.Column("destination_enc", sa.LargeBinary(), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        data_key(),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UTC_TIME, nullable=False),
        sa.Column("claimed_until", UTC_TIME, nullable=True),
        sa.Column("remote_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        *timestamps(),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        data_key_foreign_key("outbox"),
        primary_key("outbox"),
        unique("outbox", "kind", "ref", "destination_hash"),
    )
    create_indexes("outbox", "destination_hash", "status")
    op.create_table(
        "cases",
        key(),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("reporter_account_id", ID, nullable=True),
        data_key(),
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
        *timestamps(),
        sa.Column("acknowledged_at", UTC_TIME, nullable=True),
        sa.Column("followup_at", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("withdrawn_at", UTC_TIME, nullable=True),
        data_key_foreign_key("cases"),
        foreign_key("cases", "reporter_account_id", "accounts", "SET NULL"),
        primary_key("cases"),
        unique("cases", "ref"),
    )
    create_indexes(
        "cases", "assignee_hash", "closed_at", "followup_at", "reporter_account_id", "state"
    )
    op.create_table(
        "contacts",
        key(),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        foreign_key("contacts", "organisation_id", "organisations", "CASCADE"),
        primary_key("contacts"),
        unique("contacts", "organisation_id", "address_hash"),
    )
    create_indexes("contacts", "address_hash")
    op.create_table(
        "conversations",
        key("account_id"),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        foreign_key("conversations", "account_id", "accounts", "CASCADE"),
        primary_key("conversations", "account_id"),
    )
    create_indexes("conversations", "updated_at")
    op.create_table(
        "invites",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        foreign_key("invites", "organisation_id", "organisations", "CASCADE"),
        primary_key("invites", "code_hash"),
    )
    create_indexes("invites", "organisation_id")
    op.create_table(
        "member_groups",
        key(),
        sa.Column("organisation_id", ID, nullable=True),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_enc", sa.LargeBinary(), nullable=False),
        data_key(),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        *timestamps(),
        data_key_foreign_key("member_groups"),
        foreign_key("member_groups", "organisation_id", "organisations", "SET NULL"),
        primary_key("member_groups"),
        unique("member_groups", "chat_hash"),
    )
    create_indexes("member_groups", "organisation_id")
    op.create_table(
        "appeals",
        key(),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("case_id", ID, nullable=True),
        data_key(),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("drafter", sa.String(length=32), nullable=False),
        sa.Column("deadline_at", UTC_TIME, nullable=True),
        sa.Column("target_region", sa.String(length=64), nullable=True),
        sa.Column("target_language", sa.String(length=8), nullable=True),
        sa.Column("target_group", sa.String(length=64), nullable=True),
        sa.Column("allow_individuals", sa.Boolean(), nullable=False),
        *timestamps(),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        foreign_key("appeals", "case_id", "cases", "SET NULL"),
        data_key_foreign_key("appeals"),
        primary_key("appeals"),
        unique("appeals", "ref"),
    )
    create_indexes("appeals", "case_id", "state")
    op.create_table(
        "case_cards",
        key(),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("location_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        foreign_key("case_cards", "case_id", "cases", "CASCADE"),
        primary_key("case_cards"),
        unique("case_cards", "lookup_hash"),
    )
    create_indexes("case_cards", "case_id")
    op.create_table(
        "case_events",
        key(),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("text_enc", sa.LargeBinary(), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        foreign_key("case_events", "case_id", "cases", "CASCADE"),
        primary_key("case_events"),
        unique("case_events", "case_id", "seq"),
    )
    op.create_table(
        "appeal_texts",
        key(),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        foreign_key("appeal_texts", "appeal_id", "appeals", "CASCADE"),
        primary_key("appeal_texts"),
        unique("appeal_texts", "appeal_id", "language"),
    )
    op.create_table(
        "approvals",
        key(),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("approver", sa.String(length=32), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        foreign_key("approvals", "appeal_id", "appeals", "CASCADE"),
        primary_key("approvals"),
        unique("approvals", "appeal_id", "approver"),
    )
    op.create_table(
        "attachments",
        key(),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=True),
        sa.Column("filename_enc", sa.LargeBinary(), nullable=False),
        sa.Column("mime", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        foreign_key("attachments", "case_id", "cases", "CASCADE"),
        foreign_key("attachments", "event_id", "case_events", "CASCADE"),
        primary_key("attachments"),
    )
    create_indexes("attachments", "case_id", "event_id")
    op.create_table(
        "signatures",
        key(),
        sa.Column("appeal_id", ID, nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("signer", sa.String(length=32), nullable=False),
        sa.Column("via_group_id", ID, nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        foreign_key("signatures", "appeal_id", "appeals", "CASCADE"),
        foreign_key("signatures", "organisation_id", "organisations", "CASCADE"),
        foreign_key("signatures", "via_group_id", "member_groups", "SET NULL"),
        primary_key("signatures"),
        unique("signatures", "appeal_id", "organisation_id"),
    )
    create_indexes("signatures", "organisation_id")


def downgrade() -> None:
    drop_table("signatures", "organisation_id")
    drop_table("attachments", "case_id", "event_id")
    drop_table("approvals")
    drop_table("appeal_texts")
    drop_table("case_events")
    drop_table("case_cards", "case_id")
    drop_table("appeals", "case_id", "state")
    drop_table("member_groups", "organisation_id")
    drop_table("invites", "organisation_id")
    drop_table("conversations", "updated_at")
    drop_table("contacts", "address_hash")
    drop_table("cases", "assignee_hash", "closed_at", "followup_at", "reporter_account_id", "state")
    drop_table("outbox", "destination_hash", "status")
    drop_table("organisations")
    drop_table("accounts")
    drop_table("keyring")
    drop_table("deadlines", "due_at")
    drop_table("data_keys", "master_key_id")
    drop_table("callback_tokens", "expires_at")
    drop_table("audit_log")
    drop_table("audit_head")
