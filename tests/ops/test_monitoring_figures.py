"""The monitoring figures that the critical path feeds (issue 18, item 6, with
issue 12's outbox): a turn rolled back by the router's error boundary counts
as failed, and a case card still in the outbox counts as undelivered until a
room has it. In process, with the handlers' harness and the fake clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.monitoring import Monitor
from storage.errors import StorageError
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
