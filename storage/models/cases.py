"""Cases, their history, attachments and case cards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, RecordId, SealingKeyId
from storage.types import Id


class Case(Base):
    """A report. Every free-text field is sealed with the case's data key."""

    __tablename__ = "cases"

    id: Mapped[RecordId]
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    reporter_account_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    data_key_id: Mapped[SealingKeyId]
    urgency: Mapped[str] = mapped_column(String(16))
    consent: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[str] = mapped_column(String(16))
    verification: Mapped[str] = mapped_column(String(16))
    what_enc: Mapped[bytes | None]
    where_enc: Mapped[bytes | None]
    who_enc: Mapped[bytes | None]
    contact_enc: Mapped[bytes | None]
    close_reason_enc: Mapped[bytes | None]
    tags_enc: Mapped[bytes | None]  # JSON {key: [values]}
    outcome_enc: Mapped[bytes | None]
    stats_id: Mapped[int | None] = mapped_column(Id)  # the statistics row written at close
    assignee_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee_enc: Mapped[bytes | None]
    event_count: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    followup_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    withdrawn_at: Mapped[datetime | None]


class CaseEvent(Base):
    """One entry of a case's history; ``text_enc`` is sealed with the case's key."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[RecordId]
    case_id: Mapped[int] = mapped_column(Id, ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(24))
    role: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(32))  # pseudonym, never an address
    value: Mapped[str | None] = mapped_column(String(64))  # enumerated values only
    text_enc: Mapped[bytes | None]
    at: Mapped[datetime]

    # Never navigated (lazy="raise"); declared so one flush inserts parents first.
    case: Mapped[Case] = relationship(lazy="raise")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[RecordId]
    case_id: Mapped[int] = mapped_column(Id, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("case_events.id", ondelete="CASCADE"), index=True
    )
    filename_enc: Mapped[bytes]
    mime: Mapped[str] = mapped_column(String(127))
    size: Mapped[int]
    data_enc: Mapped[bytes]
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(lazy="raise")
    event: Mapped[CaseEvent | None] = relationship(lazy="raise")


class CaseCard(Base):
    """Which message in which room shows which case (for replies that omit the reference)."""

    __tablename__ = "case_cards"

    id: Mapped[RecordId]
    case_id: Mapped[int] = mapped_column(Id, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    lookup_hash: Mapped[str] = mapped_column(String(64), unique=True)
    location_enc: Mapped[bytes | None]
    created_at: Mapped[datetime]
