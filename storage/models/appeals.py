"""Appeals, their texts, approvals, signatures and the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, RecordId, SealingKeyId
from storage.types import Id


class Appeal(Base):
    __tablename__ = "appeals"

    id: Mapped[RecordId]
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    case_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    data_key_id: Mapped[SealingKeyId]
    state: Mapped[str] = mapped_column(String(16), index=True)
    drafter: Mapped[str] = mapped_column(String(32))  # pseudonym
    deadline_at: Mapped[datetime | None]
    target_region: Mapped[str | None] = mapped_column(String(64))
    target_language: Mapped[str | None] = mapped_column(String(8))
    target_group: Mapped[str | None] = mapped_column(String(64))
    allow_individuals: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class AppealText(Base):
    __tablename__ = "appeal_texts"
    __table_args__ = (UniqueConstraint("appeal_id", "language"),)

    id: Mapped[RecordId]
    appeal_id: Mapped[int] = mapped_column(Id, ForeignKey("appeals.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    text_enc: Mapped[bytes]
    updated_at: Mapped[datetime]


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("appeal_id", "approver"),)

    id: Mapped[RecordId]
    appeal_id: Mapped[int] = mapped_column(Id, ForeignKey("appeals.id", ondelete="CASCADE"))
    approver: Mapped[str] = mapped_column(String(32))  # pseudonym
    at: Mapped[datetime]


class Signature(Base):
    """One signature per (appeal, organisation)."""

    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("appeal_id", "organisation_id"),)

    id: Mapped[RecordId]
    appeal_id: Mapped[int] = mapped_column(Id, ForeignKey("appeals.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    signer: Mapped[str] = mapped_column(String(32))  # pseudonym of the person or group
    via_group_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("member_groups.id", ondelete="SET NULL")
    )
    at: Mapped[datetime]


class OutboxMessage(Base):
    """One message to one destination; the unique key makes a broadcast idempotent."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "ref", "destination_hash"),
        Index("ix_outbox_platform_status", "platform", "status"),
        Index("ix_outbox_claim", "platform", "status", "priority", "seq"),
    )

    id: Mapped[RecordId]
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64))
    destination_hash: Mapped[str] = mapped_column(String(64), index=True)
    destination_enc: Mapped[bytes]
    body_enc: Mapped[bytes | None]
    options_enc: Mapped[bytes | None]  # buttons, sealed JSON
    language: Mapped[str | None] = mapped_column(String(8))
    platform: Mapped[str | None] = mapped_column(String(16))  # in clear: each platform's lane
    data_key_id: Mapped[SealingKeyId]
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int]
    not_before: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    remote_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    """Queue order within one chat (a hybrid clock: ids are random)."""
    priority: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    """0: a person or a room waiting on this turn; 1: a broadcast."""
    op: Mapped[str] = mapped_column(String(8), server_default="text")
    """text, ask (options_enc holds the buttons), file, delete (options_enc: parameters)."""
    payload_enc: Mapped[bytes | None]
    """A file's sealed bytes, dropped once the row is finished."""


class Broadcast(Base):
    """One broadcast's header: where its progress and final report go, and its state.

    Its messages are the outbox rows with the same ``kind`` and ``ref``.
    """

    __tablename__ = "broadcasts"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    id: Mapped[RecordId]
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64))
    data_key_id: Mapped[SealingKeyId]
    report_to_enc: Mapped[bytes]  # sealed JSON: triage rooms
    progress_enc: Mapped[bytes | None]  # room → progress message
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
