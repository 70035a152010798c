"""Figures for monitoring: counts and ages only, never content, refs or addresses.

One read transaction per scrape; every figure is an aggregate over columns
kept in clear (status, platform, urgency, times, audit actions), so nothing
is decrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from storage.models import AuditEntry, Case, Checkin
from storage.models import OutboxMessage as Row
from storage.records import CheckinState
from storage.repos.base import Store
from storage.repos.checkins import MISSED
from storage.repos.outbox_rows import PENDING, SENDING, SENT

CARD = "card"  # handlers.outgoing.Kind.CARD (storage knows no handler names)


@dataclass(frozen=True)
class QueueFigures:
    depth: int
    oldest: datetime | None


@dataclass(frozen=True)
class HealthFigures:
    outbox: dict[str, QueueFigures]  # per platform
    undelivered_cards: int
    """Cases whose card is in the outbox but has reached no advisory room yet
    (queued, held, being sent or given up on; none of its rooms' cards sent)."""
    oldest_unacknowledged: dict[str, datetime]  # per urgency
    checkins_missed: int = 0
    """Check-in questions ever left unanswered past their grace period (one
    per miss, from the audit log: it survives restarts and a standby's takeover)."""
    checkins_active: int = 0  # series asking the defender now
    checkins_missed_unanswered: int = 0
    """Active series whose last question was missed and not answered since."""


class Health:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def figures(self) -> HealthFigures:
        open_case = (Case.closed_at.is_(None)) & (Case.withdrawn_at.is_(None))
        async with self._store.read() as session:
            queued = (
                await session.execute(
                    select(Row.platform, func.count(), func.min(Row.created_at))
                    .where(Row.status.in_([PENDING, SENDING]))
                    .group_by(Row.platform)
                )
            ).all()
            sent = aliased(Row)
            undelivered = await session.scalar(
                select(func.count(func.distinct(Row.ref))).where(
                    Row.kind == CARD,
                    Row.status != SENT,
                    ~exists().where(sent.kind == CARD, sent.ref == Row.ref, sent.status == SENT),
                )
            )
            unacknowledged = (
                await session.execute(
                    select(Case.urgency, func.min(Case.created_at))
                    .where(open_case, Case.acknowledged_at.is_(None))
                    .group_by(Case.urgency)
                )
            ).all()
            missed = await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == MISSED)
            )
            active = (
                await session.execute(
                    select(func.count(), func.count(Checkin.missed_at)).where(
                        Checkin.state == CheckinState.ACTIVE.value
                    )
                )
            ).one()
        return HealthFigures(
            outbox={
                str(platform or "unknown"): QueueFigures(int(depth), oldest)
                for platform, depth, oldest in queued
            },
            undelivered_cards=int(undelivered or 0),
            oldest_unacknowledged={str(u): at for u, at in unacknowledged if at is not None},
            checkins_missed=int(missed or 0),
            checkins_active=int(active[0]),
            checkins_missed_unanswered=int(active[1]),
        )
