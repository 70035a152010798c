"""APScheduler behind a small interface, driven by the injected clock.

Deadlines live in the database (handlers/deadlines.py acts on them). The
scheduler holds one APScheduler date job at the time of the next deadline,
re-armed from the database at start and after every run; a deadline a turn
sets moves the job earlier as soon as the turn commits
(``Database.on_scheduled``); the 60-second safety poll catches anything
else. With
a ``FakeClock`` nothing waits on the wall clock: ``advance`` moves time and
runs what came due.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from handlers import deadlines
from handlers.clock import FakeClock
from handlers.services import Services
from storage.records import DeadlineKind

log = logging.getLogger(__name__)

SAFETY_POLL = timedelta(seconds=60)
JOB_ID = "next-deadline"


class Scheduler:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = asyncio.Lock()
        self._aps: AsyncIOScheduler | None = None
        self.fake = isinstance(services.clock, FakeClock)

    async def start(self) -> None:
        await self.ensure_recurring()
        await self.run_due()
        if self.fake:
            return  # time moves only through advance()
        self._aps = AsyncIOScheduler(timezone="UTC")
        self._aps.add_job(
            self.run_due,
            IntervalTrigger(seconds=SAFETY_POLL.total_seconds()),
            id="safety-poll",
            coalesce=True,
            max_instances=1,
        )
        self._aps.start()
        self.services.db.on_scheduled(self._deadline_set)
        await self.rearm()

    def _deadline_set(self, due_at: datetime) -> None:
        """A turn committed a deadline: run at its time if that is before the job's."""
        if self._aps is None:
            return
        job = self._aps.get_job(JOB_ID)
        if job is not None and job.next_run_time is not None and job.next_run_time <= due_at:
            return
        self._arm(due_at)

    def _arm(self, due: datetime) -> None:
        assert self._aps is not None
        self._aps.add_job(
            self.run_due,
            DateTrigger(run_date=due),
            id=JOB_ID,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def stop(self) -> None:
        self.services.db.on_scheduled(None)
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None

    async def ensure_recurring(self) -> None:
        """The daily digest and purge exist once, whatever happened before."""
        from handlers.triage import next_digest

        now = self.services.clock.now()
        pending = {(d.kind, d.object_ref) for d in await self.services.db.deadlines.pending()}
        if (DeadlineKind.DIGEST, "daily") not in pending:
            at = next_digest(now, self.services.settings.digest_time)
            await self.services.db.deadlines.schedule(DeadlineKind.DIGEST, "daily", at)
        if (DeadlineKind.PURGE, "daily") not in pending:
            await self.services.db.deadlines.schedule(
                DeadlineKind.PURGE, "daily", now + timedelta(hours=1)
            )

    async def run_due(self) -> int:
        async with self._lock:
            try:
                count = await deadlines.run_due(self.services)
            except Exception as exc:  # a failed run must not stop the scheduler
                log.error("running deadlines failed: %s", type(exc).__name__)
                count = 0
        await self.rearm()
        return count

    async def rearm(self) -> None:
        """Point the date job at the next deadline in the database."""
        if self._aps is None:
            return
        pending = await self.services.db.deadlines.pending()
        if not pending:
            return
        self._arm(min(d.due_at for d in pending))

    async def advance(self, delta: timedelta) -> int:
        """Fake clock only: move time and run whatever came due."""
        clock = self.services.clock
        if not isinstance(clock, FakeClock):
            raise RuntimeError("advance() needs the fake clock")
        clock.advance(delta)
        return await self.run_due()
