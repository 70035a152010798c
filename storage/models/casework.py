"""Casework: de-identified statistics, the partner directory and referrals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, RecordId, SealingKeyId
from storage.types import Id


class CaseStat(Base):
    """One closed case, de-identified: written at close, kept after the case is purged.

    Only what is listed here: months (never a day), enumerated words, counts
    and minutes. No text, no reference and no link to the case (the primary
    key is random; the case points here while it exists, never the reverse).
    """

    __tablename__ = "case_stats"

    id: Mapped[RecordId]
    opened_month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    closed_month: Mapped[str] = mapped_column(String(7), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(64))
    threats: Mapped[str] = mapped_column(String(500))  # ","-separated vocabulary words
    perpetrators: Mapped[str] = mapped_column(String(500))
    profiles: Mapped[str] = mapped_column(String(500))
    relation: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    minutes_to_ack: Mapped[int | None]
    minutes_to_action: Mapped[int | None]
    appeals: Mapped[int]
    signatures: Mapped[int]
    referrals: Mapped[int]
    letters: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(16))


class Partner(Base):
    """An organisation cases are referred to. Name, contact and notes are sealed."""

    __tablename__ = "partners"

    id: Mapped[RecordId]
    name_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name_enc: Mapped[bytes]
    data_key_id: Mapped[SealingKeyId]
    kinds: Mapped[str] = mapped_column(String(500))  # ";"-separated
    regions: Mapped[str] = mapped_column(String(1000))
    languages: Mapped[str] = mapped_column(String(64))
    contact_enc: Mapped[bytes | None]
    notes_enc: Mapped[bytes | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Referral(Base):
    """A case referred to a partner (``R-…``). The note is sealed with the case's key,
    so /forget (which destroys that key) makes it unreadable."""

    __tablename__ = "referrals"

    id: Mapped[RecordId]
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    case_id: Mapped[int] = mapped_column(Id, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("partners.id", ondelete="SET NULL"), index=True
    )
    data_key_id: Mapped[SealingKeyId]
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    note_enc: Mapped[bytes | None]
    sent: Mapped[int]  # summaries sent to the partner
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]  # the last news
    # Set when the defender narrowed the consent before any summary was sent:
    # /referral … send is refused from then on (consent words, never text).
    blocked_at: Mapped[datetime | None]
    blocked_from: Mapped[str | None] = mapped_column(String(32))
    blocked_to: Mapped[str | None] = mapped_column(String(32))
