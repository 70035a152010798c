"""Deadlines the scheduler is rebuilt from: one per (kind, object)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage.errors import Conflict
from storage.models import Deadline as DeadlineRow
from storage.records import Deadline
from storage.repos.base import Repository, rowcount
from storage.types import new_id


def _deadline(row: DeadlineRow) -> Deadline:
    return Deadline(row.id, row.kind, row.object_ref, row.due_at, row.step)


class Deadlines(Repository):
    async def schedule(
        self, kind: str, object_ref: str, due_at: datetime, step: int = 0
    ) -> Deadline:
        """Create the deadline, or move the existing one of the same kind and object."""
        if due_at.tzinfo is None:
            raise ValueError("due_at must be timezone-aware")
        now = self._store.now()
        for _attempt in range(3):
            try:
                async with self._store.write() as session:
                    row = (
                        await session.execute(
                            select(DeadlineRow)
                            .where(DeadlineRow.kind == kind, DeadlineRow.object_ref == object_ref)
                            .with_for_update()
                        )
                    ).scalar_one_or_none()
                    if row is None:
                        row = DeadlineRow(
                            id=new_id(),
                            kind=kind,
                            object_ref=object_ref,
                            due_at=due_at,
                            step=step,
                            created_at=now,
                            updated_at=now,
                        )
                        session.add(row)
                    else:
                        row.due_at, row.step, row.updated_at = due_at, step, now
                    await session.flush()
                    self._store.notify_scheduled(due_at)
                    return _deadline(row)
            except Conflict:  # created concurrently: update it instead
                continue
        raise AssertionError("unreachable: the deadline row exists after a conflict")

    async def due(self, before: datetime) -> list[Deadline]:
        """Deadlines due at or before ``before``, earliest first."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(DeadlineRow)
                .where(DeadlineRow.due_at <= before)
                .order_by(DeadlineRow.due_at, DeadlineRow.id)
            )
            return [_deadline(row) for row in rows.scalars()]

    async def pending(self) -> list[Deadline]:
        """Every deadline, earliest first (to rebuild the scheduler at start)."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(DeadlineRow).order_by(DeadlineRow.due_at, DeadlineRow.id)
            )
            return [_deadline(row) for row in rows.scalars()]

    async def get(self, kind: str, object_ref: str) -> Deadline | None:
        async with self._store.read() as session:
            row = (
                await session.execute(
                    select(DeadlineRow).where(
                        DeadlineRow.kind == kind, DeadlineRow.object_ref == object_ref
                    )
                )
            ).scalar_one_or_none()
            return None if row is None else _deadline(row)

    async def complete(self, deadline_id: int) -> bool:
        """The deadline's job ran: remove it. False if it was already gone."""
        async with self._store.write() as session:
            result = await session.execute(delete(DeadlineRow).where(DeadlineRow.id == deadline_id))
            return rowcount(result) > 0

    async def cancel(self, kind: str, object_ref: str) -> bool:
        async with self._store.write() as session:
            result = await session.execute(
                delete(DeadlineRow).where(
                    DeadlineRow.kind == kind, DeadlineRow.object_ref == object_ref
                )
            )
            return rowcount(result) > 0
