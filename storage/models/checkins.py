"""Safety check-ins: a defender is asked "Are you safe?" at set times."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, RecordId
from storage.types import Id


class Checkin(Base):
    """One series of check-ins for one case.

    The times of the next question, of the grace period's end and of the
    escalation live in ``deadlines`` (kinds ``checkin``, ``checkin-miss``,
    ``checkin-escalation``); this row says what state the series is in. The
    duress word is kept only as a keyed hash: the bot can recognise it but
    nobody can read it back.
    """

    __tablename__ = "checkins"

    id: Mapped[RecordId]
    account_id: Mapped[int] = mapped_column(
        Id, ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(Id, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    proposed_by: Mapped[str] = mapped_column(String(16))  # defender | advisor
    interval_s: Mapped[int]
    grace_s: Mapped[int]
    ends_at: Mapped[datetime]
    asked_at: Mapped[datetime | None]
    last_answer_at: Mapped[datetime | None]
    missed_at: Mapped[datetime | None]
    duress_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
