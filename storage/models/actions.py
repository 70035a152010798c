"""What members do beyond signing: proposals, subscriptions, and the news an
appeal's audience hears after it was sent (outcome texts, recipients)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, RecordId, SealingKeyId
from storage.types import Id


class AppealNote(Base):
    """A per-language text said about an appeal after it was sent (``outcome``)."""

    __tablename__ = "appeal_notes"
    __table_args__ = (UniqueConstraint("appeal_id", "kind", "language"),)

    id: Mapped[RecordId]
    appeal_id: Mapped[int] = mapped_column(Id, ForeignKey("appeals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    text_enc: Mapped[bytes]  # sealed with the appeal's key
    updated_at: Mapped[datetime]


class AppealRecipient(Base):
    """A member group the appeal was sent to: who hears its outcome."""

    __tablename__ = "appeal_recipients"

    appeal_id: Mapped[int] = mapped_column(
        Id, ForeignKey("appeals.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    group_id: Mapped[int] = mapped_column(
        Id,
        ForeignKey("member_groups.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )


class Proposal(Base):
    """A member's proposal for collective action, ``P-…``; its text is sealed."""

    __tablename__ = "proposals"

    id: Mapped[RecordId]
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    organisation_id: Mapped[int] = mapped_column(
        Id, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("member_groups.id", ondelete="SET NULL")
    )
    case_id: Mapped[int | None] = mapped_column(Id, ForeignKey("cases.id", ondelete="SET NULL"))
    appeal_id: Mapped[int | None] = mapped_column(Id, ForeignKey("appeals.id", ondelete="SET NULL"))
    data_key_id: Mapped[SealingKeyId]
    proposer: Mapped[str] = mapped_column(String(32))  # pseudonym
    state: Mapped[str] = mapped_column(String(16), index=True)
    text_enc: Mapped[bytes]
    reason_enc: Mapped[bytes | None]
    files_enc: Mapped[bytes | None]  # sealed JSON: name, type, data
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Subscription(Base):
    """A member group asked for appeals of a region, working group or language."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("group_id", "key", "value"),)

    id: Mapped[RecordId]
    group_id: Mapped[int] = mapped_column(
        Id, ForeignKey("member_groups.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(16))  # region | group | language
    value: Mapped[str] = mapped_column(String(64))  # casefolded
    created_at: Mapped[datetime]
