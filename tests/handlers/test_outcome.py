"""Outcome news reaches every group that received the appeal, once (issue 16, item 3)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from handlers.messages import Address, Platform
from handlers.refs import parse_ref
from tests.handlers.test_appeals import (
    GOMA_ROOM,
    LUCIA,
    STRANGER,
    TIERRA_GROUP,
    TUNIS_GROUP,
    ready_appeal,
    say,
    seed,
)
from tests.handlers.test_intake import ANA, full_report
from tests.harness.bot import ALICE, Harness, make_harness

LATE_GROUP = Address(Platform.TELEGRAM, "-1004")  # registered after the appeal was sent


async def sent_and_closed(bot: Harness) -> str:
    await seed(bot)
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")  # the harness delivers the outbox after each turn
    await say(bot, LUCIA, f"/sign {ref}", chat=LUCIA)  # Colectivo Tierra signs
    tierra = await bot.db.members.organisation("Colectivo Tierra")
    assert tierra is not None
    await bot.db.members.add_group(str(LATE_GROUP), tierra.id, "es")
    await bot.advance(timedelta(days=16))  # past the deadline: signing closed (reminders sent)
    bot.take_broadcasts()
    assert (await bot.db.appeals.get(ref)).state == "closed"
    return ref


async def test_outcome_after_the_deadline_reaches_every_recipient_once(bot: Harness) -> None:
    ref = await sent_and_closed(bot)
    saved = await say(bot, ALICE, f"/appeal outcome {ref} en The defenders were released.")
    assert f"/appeal outcome {ref} send" in saved
    await say(bot, ALICE, f"/appeal outcome {ref} es Los defensores fueron liberados.")
    answer = await say(bot, ALICE, f"/appeal outcome {ref} send")
    assert answer == f"The outcome of {ref} is being sent to 3 member groups."
    assert bot.take_broadcasts() == 3
    tierra = bot.telegram.last(TIERRA_GROUP).text
    assert "Los defensores fueron liberados." in tierra
    assert "firmó" in tierra, "the organisation that signed is thanked, in its language"
    tunis = bot.telegram.last(TUNIS_GROUP).text
    assert "The defenders were released." in tunis, "no Arabic text: the English one"
    assert "signed" not in tunis
    goma = bot.matrix.last(GOMA_ROOM).text
    assert "The defenders were released." in goma
    assert not bot.telegram.to(LATE_GROUP), "the appeal never reached it: no outcome either"
    again = await say(bot, ALICE, f"/appeal outcome {ref} send")
    assert again == f"The outcome of {ref} was already sent."
    assert bot.take_broadcasts() == 0


async def test_outcome_is_sent_once_across_a_restart(tmp_path: Path) -> None:
    bot = await make_harness(tmp_path)
    ref = await sent_and_closed(bot)
    await say(bot, ALICE, f"/appeal outcome {ref} en The defenders were released.")
    # One message goes out, two cannot be delivered for now, then the bot stops.
    bot.matrix.failing.add(GOMA_ROOM)
    bot.telegram.failing.add(TUNIS_GROUP)
    await say(bot, ALICE, f"/appeal outcome {ref} send")
    before = [o.chat for o in [*bot.telegram.sent, *bot.matrix.sent] if "released" in o.text]
    assert before == [TIERRA_GROUP]
    stopped_at = bot.clock.now()
    await bot.close()

    bot = await make_harness(tmp_path)
    try:
        await bot.advance(stopped_at - bot.clock.now())  # the clock goes on where it stopped
        again = await say(bot, ALICE, f"/appeal outcome {ref} send")
        assert again == f"The outcome of {ref} was already sent."
        bot.take_broadcasts()
        await bot.advance(timedelta(seconds=31))  # the retry time of the two left pending
        assert bot.take_broadcasts() == 2
        after = [o.chat for o in [*bot.telegram.sent, *bot.matrix.sent] if "released" in o.text]
        assert Counter([*before, *after]) == Counter([TIERRA_GROUP, GOMA_ROOM, TUNIS_GROUP])
    finally:
        await bot.close()


async def test_outcome_is_refused_for_a_draft_bad_input_and_without_consent(
    bot: Harness,
) -> None:
    await seed(bot)
    case = await full_report(bot, ANA, "en")
    answer = await say(bot, ALICE, f"/appeal new {case}")
    ref = next(parse_ref(w.strip(".,")) for w in answer.split() if w.startswith("A-"))
    assert ref
    assert "has not been sent" in await say(bot, ALICE, f"/appeal outcome {ref} en Done.")
    plain = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {plain}")
    assert "Usage: /appeal outcome" in await say(bot, ALICE, f"/appeal outcome {plain} de Fertig")
    assert "Usage: /appeal outcome" in await say(bot, ALICE, f"/appeal outcome {plain} en")
    assert "needs an English outcome" in await say(bot, ALICE, f"/appeal outcome {plain} send")
    assert await bot.db.appeal_notes.notes(plain, "outcome") == {}
    refused = await say(bot, STRANGER, f"/appeal outcome {plain} en Done.", chat=TIERRA_GROUP)
    assert "for the advisory group" in refused
