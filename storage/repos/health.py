"""Figures for monitoring: counts and ages only, never content, refs or addresses.

One read transaction per scrape; every figure is an aggregate over columns
kept in clear (status, platform, urgency, times), so nothing is decrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select

from storage.models import Case, CaseCard
from storage.models import OutboxMessage as Row
from storage.repos.base import Store
from storage.repos.outbox_rows import PENDING, SENDING


@dataclass(frozen=True)
class QueueFigures:
    depth: int
    oldest: datetime | None


@dataclass(frozen=True)
class HealthFigures:
    outbox: dict[str, QueueFigures]  # per platform
    undelivered_cards: int
    """Open cases that no advisory room has a card of."""
    oldest_unacknowledged: dict[str, datetime]  # per urgency


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
            undelivered = await session.scalar(
                select(func.count())
                .select_from(Case)
                .where(open_case, ~exists().where(CaseCard.case_id == Case.id))
            )
            unacknowledged = (
                await session.execute(
                    select(Case.urgency, func.min(Case.created_at))
                    .where(open_case, Case.acknowledged_at.is_(None))
                    .group_by(Case.urgency)
                )
            ).all()
        return HealthFigures(
            outbox={
                str(platform or "unknown"): QueueFigures(int(depth), oldest)
                for platform, depth, oldest in queued
            },
            undelivered_cards=int(undelivered or 0),
            oldest_unacknowledged={str(u): at for u, at in unacknowledged if at is not None},
        )
