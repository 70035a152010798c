"""The monitoring figures that the critical path feeds (issue 18, item 6, with
issue 12's outbox): a turn rolled back by the router's error boundary counts
as failed, a case card still in the outbox counts as undelivered until a
room has it, and missed check-ins (issue 15) are counted from storage. In process, with the handlers' harness and the fake clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.monitoring import Monitor
from storage.errors import StorageError
from tests.handlers.test_checkins import ANA as CHECKIN_ANA
from tests.handlers.test_checkins import room as checkin_room
from tests.handlers.test_checkins import set_up as checkin_set_up
from tests.handlers.test_checkins import tick as checkin_tick
from tests.handlers.test_intake import ANA, ref_in
from tests.harness.bot import TRIAGE, make_harness


async def test_failed_turns_and_undelivered_cards_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await make_harness(tmp_path)
    try:
        monitor = Monitor(bot.db, [])
        bot.router.on_failed = monitor.turn_failed
        monkeypatch.setattr(bot.router, "deliver", monitor.wrap(bot.router.deliver, "telegram"))

        def updates(outcome: str) -> float | None:
            labels = {"platform": "telegram", "outcome": outcome}
            return monitor.registry.get_sample_value("sosbot_updates_total", labels)

        def undelivered() -> float | None:
            return monitor.registry.get_sample_value("sosbot_undelivered_case_cards")

        schedule = bot.db.deadlines.schedule

        async def broken(*args: object, **kwargs: object) -> None:
            raise StorageError("disk full")

        monkeypatch.setattr(bot.db.deadlines, "schedule", broken)
        out = await bot.send(ANA, "/sos men at the gate")
        assert "nothing was saved" in out[0].text  # the router answered; nothing raised
        assert (updates("failed"), updates("handled")) == (1, None)
        assert bot.router.failed_turns == 1

        monkeypatch.setattr(bot.db.deadlines, "schedule", schedule)
        bot.matrix.failing.add(TRIAGE)  # the only triage room cannot be reached
        out = await bot.send(ANA, "/sos men at the gate")
        ref = ref_in(out[0].text)
        assert (updates("failed"), updates("handled")) == (1, 1)
        await monitor.refresh()
        assert undelivered() == 1, "the card waits in the outbox"

        bot.matrix.failing.clear()  # the room is back; the retry delivers the card
        await bot.advance(timedelta(minutes=1))
        assert [o for o in bot.matrix.to(TRIAGE) if ref in o.text]
        await monitor.refresh()
        assert undelivered() == 0
    finally:
        await bot.close()


async def test_missed_checkins_are_counted_across_a_restart(tmp_path: Path) -> None:
    """The counter is read from storage: a restart (or a standby's takeover)
    does not bring it back to zero, and it carries no label at all."""

    def figures(monitor: Monitor) -> tuple[float | None, ...]:
        value = monitor.registry.get_sample_value
        return (
            value("sosbot_checkins_missed_total"),
            value("sosbot_checkins_active"),
            value("sosbot_checkins_missed_unanswered"),
        )

    first = await make_harness(tmp_path)
    try:
        monitor = Monitor(first.db, [])
        await monitor.refresh()
        assert figures(monitor) == (0, 0, 0)
        ref = await checkin_set_up(first)
        await monitor.refresh()
        assert figures(monitor) == (0, 1, 0)
        await checkin_tick(first, timedelta(hours=6))  # asked
        await checkin_tick(first, timedelta(minutes=30))  # the grace period passed
        assert [text for text in checkin_room(first, "Missed check-in") if ref in text]
        await monitor.refresh()
        assert figures(monitor) == (1, 1, 1)
    finally:
        await first.scheduler.stop()
        await first.db.close()

    second = await make_harness(tmp_path)
    try:
        second.clock.advance(timedelta(hours=6, minutes=30))
        monitor = Monitor(second.db, [])
        await monitor.refresh()
        assert figures(monitor) == (1, 1, 1), "a new process reads the same count"
        await second.send(CHECKIN_ANA, "I am safe")  # typed: the question was asked before
        await monitor.refresh()
        assert figures(monitor) == (1, 1, 0), "answered: no longer outstanding, still counted"
        for family in monitor.registry.collect():
            if family.name.startswith("sosbot_checkins"):
                assert all(sample.labels == {} for sample in family.samples)
    finally:
        await second.scheduler.stop()
        await second.db.close()
