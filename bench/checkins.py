"""Check-ins at scale: how long one deadline run takes when many are due at once.

Run by hand, never in tests:

    .venv/bin/python bench/checkins.py              # 500 series
    .venv/bin/python bench/checkins.py --series 2000

N defenders each have a case and an active check-in series, all due at the
same minute (the worst case: a network that set them up together, or a bot
that was down). Figures: the run that asks them all (one outbox row each),
the run at the end of the grace period that raises the missed alerts, and
the outbox drain through the in-memory messengers. The real router,
storage (SQLite file) and scheduler run; the fake clock moves time.
Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.records import DeadlineKind
from tests.harness.bot import TRIAGE, drain_outbox, make_harness


async def main(series: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        bot = await make_harness(Path(folder))
        db, now = bot.db, bot.clock.now()
        started = time.perf_counter()
        for n in range(series):
            account = await db.accounts.get_or_create(f"telegram:{700000 + n}", "en")
            ref = f"C-{n:06d}"
            await db.cases.create(
                ref, account.id, "days", "advisory_only", "telegram", what="x", where="", who=""
            )
            checkin, _ = await db.checkins.start(
                account.id,
                ref,
                proposed_by="defender",
                interval=timedelta(hours=6),
                length=timedelta(days=3),
                grace=timedelta(minutes=30),
            )
            await db.checkins.activate(checkin.id, "sunflower" if n % 2 else None)
            await db.deadlines.schedule(
                DeadlineKind.CHECKIN, str(checkin.id), now + timedelta(hours=6)
            )
        setup = time.perf_counter() - started

        started = time.perf_counter()
        # The scheduler alone (the harness's advance also drains the outbox):
        # each deadline runs in its own unit of work, its question queued in it.
        asked = await bot.scheduler.advance(timedelta(hours=6))
        ask_run = time.perf_counter() - started
        started = time.perf_counter()
        drained = await drain_outbox(bot)
        drain = time.perf_counter() - started
        started = time.perf_counter()
        missed = await bot.scheduler.advance(timedelta(minutes=30))
        miss_run = time.perf_counter() - started
        await drain_outbox(bot)
        alerts = [o for o in bot.matrix.to(TRIAGE) if "Missed check-in" in o.text]
        await bot.scheduler.stop()
        await db.close()
    print(f"series                        {series}")
    print(f"set-up                        {setup:.1f} s")
    print(f"ask run: deadlines acted on   {asked} in {ask_run:.2f} s ({asked / ask_run:.0f}/s)")
    print(f"questions delivered (drain)   {drained} in {drain:.2f} s")
    print(f"missed run: deadlines         {missed} in {miss_run:.2f} s ({missed / miss_run:.0f}/s)")
    print(f"missed alerts in the room     {len(alerts)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=500)
    asyncio.run(main(parser.parse_args().series))
