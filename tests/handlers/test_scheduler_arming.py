"""A deadline a turn sets arms the scheduler as soon as the turn commits
(not at the next 60-second safety poll): the 2-minute card check and an
immediate case's escalation run on time on the real clock.

The scheduler runs on the system clock here (APScheduler started), but
nothing waits for it: the tests read the time of its armed job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import JOB_ID, Scheduler
from handlers.clock import SystemClock
from handlers.hub import MessengerHub
from handlers.services import Services
from storage.records import DeadlineKind
from tests.harness.bot import default_settings, open_database


@pytest.fixture
async def scheduler(tmp_path: Path) -> AsyncIterator[Scheduler]:
    """The scheduler on the system clock, APScheduler started."""
    clock = SystemClock()
    db = await open_database(tmp_path, clock, None)  # type: ignore[arg-type]
    services = Services(db=db, clock=clock, settings=default_settings(), hub=MessengerHub())
    running = Scheduler(services)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        await db.close()


def armed_at(scheduler: Scheduler) -> datetime:
    assert scheduler._aps is not None
    job = scheduler._aps.get_job(JOB_ID)
    assert job is not None
    return job.next_run_time.astimezone(UTC)  # type: ignore[no-any-return]


async def test_a_deadline_committed_in_a_turn_moves_the_job_earlier(scheduler: Scheduler) -> None:
    db = scheduler.services.db
    first = armed_at(scheduler)  # the daily purge, an hour from now
    soon = datetime.now(UTC) + timedelta(minutes=2)
    await db.run(lambda: db.deadlines.schedule(DeadlineKind.CARD_CHECK, "C-TEST01", soon))
    assert first > soon
    assert armed_at(scheduler) == soon


async def test_a_later_deadline_leaves_the_earlier_job(scheduler: Scheduler) -> None:
    db = scheduler.services.db
    first = armed_at(scheduler)
    later = first + timedelta(days=3)
    await db.run(lambda: db.deadlines.schedule(DeadlineKind.CARD_CHECK, "C-TEST02", later))
    assert armed_at(scheduler) == first


async def test_a_rolled_back_turn_arms_nothing(scheduler: Scheduler) -> None:
    db = scheduler.services.db
    first = armed_at(scheduler)

    async def turn() -> None:
        await db.deadlines.schedule(
            DeadlineKind.CARD_CHECK, "C-TEST03", datetime.now(UTC) + timedelta(minutes=1)
        )
        raise RuntimeError("the turn fails after setting its deadline")

    with pytest.raises(RuntimeError):
        await db.run(turn)
    assert armed_at(scheduler) == first
