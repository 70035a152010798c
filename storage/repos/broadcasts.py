"""Broadcast headers: where a broadcast's progress and final report go.

A header is written with the broadcast's messages (``outbox.add_broadcast``)
and finished once, in the same transaction that queues the final report
(itself outbox messages to the triage rooms, so the report is as
crash-safe as the broadcast). These methods are part of ``db.outbox``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast
from storage.models import OutboxMessage as Row
from storage.records import BroadcastInfo
from storage.repos.base import Repository, open_json, seal_json
from storage.repos.outbox_rows import FINISHED, Delivery, add_deliveries

SENDING, DONE = "sending", "done"
REPORT_KIND = "report"
_TABLE = "broadcasts"


def report_ref(kind: str, ref: str) -> str:
    """The outbox ref of a broadcast's final report."""
    return f"{kind}:{ref}"


class BroadcastHeaders(Repository):
    async def running(self) -> list[BroadcastInfo]:
        """Broadcasts not yet reported as finished, oldest first."""
        async with self._store.read() as session:
            rows = await session.execute(
                select(Broadcast)
                .where(Broadcast.state == SENDING)
                .order_by(Broadcast.created_at, Broadcast.id)
            )
            return [await self._info(session, row) for row in rows.scalars()]

    async def broadcast(self, kind: str, ref: str) -> BroadcastInfo | None:
        async with self._store.read() as session:
            row = await self._header(session, kind, ref)
            return None if row is None else await self._info(session, row)

    async def set_progress(self, kind: str, ref: str, progress: dict[str, str]) -> None:
        """Remember the progress message posted in each triage room (to edit it later)."""
        async with self._store.write() as session:
            row = await self._header(session, kind, ref)
            if row is None:
                return
            key = await self._vault.key(session, row.data_key_id)
            row.progress_enc = seal_json(key, _TABLE, "progress", row.id, progress)
            row.updated_at = self._store.now()

    async def finish_broadcast(self, kind: str, ref: str, report: Sequence[Delivery]) -> bool:
        """Mark the broadcast done and queue its report, once; False if not (yet) done."""
        now = self._store.now()
        async with self._store.write() as session:
            row = await self._header(session, kind, ref, lock=True)
            if row is None or row.state != SENDING:
                return False
            open_rows = await session.scalar(
                select(func.count())
                .select_from(Row)
                .where(Row.kind == kind, Row.ref == ref, Row.status.not_in(FINISHED))
            )
            if open_rows:
                return False
            row.state, row.finished_at, row.updated_at = DONE, now, now
            # To the rooms, at least once: a report lost to a crash would hide the
            # destinations a person has to check (its "uncertain" list).
            report_rows = report_ref(kind, ref)
            await add_deliveries(session, self._store, REPORT_KIND, report_rows, report, priority=0)
            return True

    @staticmethod
    async def _header(
        session: AsyncSession, kind: str, ref: str, *, lock: bool = False
    ) -> Broadcast | None:
        stmt = select(Broadcast).where(Broadcast.kind == kind, Broadcast.ref == ref)
        if lock:
            stmt = stmt.with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def _info(self, session: AsyncSession, row: Broadcast) -> BroadcastInfo:
        key = await self._vault.key(session, row.data_key_id)
        report_to = open_json(key, _TABLE, "report_to", row.id, row.report_to_enc)
        progress = (
            open_json(key, _TABLE, "progress", row.id, row.progress_enc)
            if row.progress_enc is not None
            else {}
        )
        return BroadcastInfo(
            kind=row.kind,
            ref=row.ref,
            report_to=tuple(str(a) for a in report_to),
            progress={str(k): str(v) for k, v in progress.items()},
            state=row.state,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )
