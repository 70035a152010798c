"""Safety check-ins on the fake clock: answered, missed, duress, stopped, restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from handlers import checkins
from handlers.i18n import render
from handlers.messages import Address, Platform
from tests.handlers.test_intake import full_report
from tests.harness.bot import (
    ALICE,
    COORDINATOR,
    TRIAGE,
    Harness,
    drain_outbox,
    make_harness,
)
from tests.harness.messenger import Outgoing

ANA = Address(Platform.TELEGRAM, "7001")
MEMBER_GROUP = Address(Platform.TELEGRAM, "-100777")
ASKED = "are you safe?"


def room(bot: Harness, needle: str) -> list[str]:
    return [o.text for o in bot.matrix.to(TRIAGE) if needle in o.text]


def questions(bot: Harness) -> list[Outgoing]:
    return [o for o in bot.telegram.to(ANA) if ASKED in o.text]


async def tick(bot: Harness, delta: timedelta) -> None:
    """Move the clock and let the outbox deliver what came due."""
    await bot.advance(delta)
    await drain_outbox(bot)


async def set_up(bot: Harness, word: str | None = None) -> str:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ALICE, f"/ack {ref}", chat=TRIAGE)  # the case's own escalation is done
    replies = await bot.send(ANA, "/checkin every 6h for 3d")
    assert "duress word" in replies[-1].text
    if word is None:
        replies = await bot.press(ANA, "No duress word")
    else:
        replies = await bot.send(ANA, word)
    assert "Check-ins are on for" in replies[0].text
    assert room(bot, f"Check-ins set up for {ref}")
    return ref


async def test_an_answered_checkin_raises_no_alert(bot: Harness) -> None:
    ref = await set_up(bot)
    await tick(bot, timedelta(hours=5, minutes=59))
    assert questions(bot) == []
    await tick(bot, timedelta(minutes=1))
    assert len(questions(bot)) == 1
    assert [o.label for o in questions(bot)[0].options] == ["I am safe", "I need help"]
    replies = await bot.press(ANA, "I am safe")
    assert "glad you are safe" in replies[-1].text
    await tick(bot, timedelta(hours=1))
    assert room(bot, "Missed check-in") == []
    await tick(bot, timedelta(hours=5))
    assert len(questions(bot)) == 2, "the next question comes on time"
    # Typing the answer works too.
    await bot.send(ANA, "I am safe")
    await tick(bot, timedelta(hours=2))
    assert room(bot, "Missed check-in") == [] and room(bot, ref) != []


async def test_a_missed_checkin_alerts_once_and_escalates_across_a_restart(
    tmp_path: Path,
) -> None:
    first = await make_harness(tmp_path)
    ref = await set_up(first)
    await tick(first, timedelta(hours=6))
    assert len(questions(first)) == 1
    await tick(first, timedelta(minutes=29))
    assert room(first, "Missed check-in") == []
    await tick(first, timedelta(minutes=1))
    alerts = room(first, "Missed check-in")
    assert len(alerts) == 1 and ref in alerts[0]
    assert "Last answer: never" in alerts[0]
    await first.close()

    # The bot restarts; the escalation still comes on time (immediate: 15 minutes).
    second = await make_harness(tmp_path)
    second.clock.advance(timedelta(hours=6, minutes=30))
    await second.advance(timedelta(minutes=14))
    assert room(second, "still not acknowledged") == []
    await second.advance(timedelta(minutes=1))
    reminder = room(second, "still not acknowledged")
    assert len(reminder) == 1 and "@alice:localhost" in reminder[0]
    await second.advance(timedelta(minutes=15))
    assert [o.text for o in second.matrix.to(COORDINATOR) if ref in o.text]
    # The next question also goes unanswered: no second alert card for it.
    for _ in range(8):
        await tick(second, timedelta(hours=1))
    assert room(second, "Missed check-in") == []
    assert len(questions(second)) >= 1
    # The defender answers at last: the room hears it.
    await second.press(ANA, "I am safe")
    assert room(second, f"The defender of {ref} answered the missed check-in: safe.")
    await second.close()


async def safe_reply(bot: Harness, account: Address) -> str:
    found = await bot.db.accounts.find(str(account))
    assert found is not None
    [series] = await bot.db.checkins.live_of(found.id)
    upcoming = await bot.db.deadlines.get("checkin", str(series.id))
    assert upcoming is not None
    return render("en", checkins.SAFE_REPLY, next=upcoming.due_at.strftime("%Y-%m-%d %H:%M UTC"))


async def test_the_duress_word_looks_safe_and_alerts_the_room_silently(bot: Harness) -> None:
    ref = await set_up(bot, word="sunflower")
    await tick(bot, timedelta(hours=6))
    safe = await bot.press(ANA, "I am safe")
    assert [o.text for o in safe if o.chat == ANA] == [await safe_reply(bot, ANA)]
    assert room(bot, "SILENT ALERT") == []
    await tick(bot, timedelta(hours=6))
    duress = await bot.send(ANA, "  Sunflower ")
    # The defender's screen: exactly what "I am safe" answers.
    assert [o.text for o in duress if o.chat == ANA] == [await safe_reply(bot, ANA)]
    alert = room(bot, "SILENT ALERT")
    assert len(alert) == 1 and ref in alert[0] and "sunflower" not in alert[0].casefold()
    # Escalated like an immediate case until an advisor acknowledges it…
    await tick(bot, timedelta(minutes=15))
    assert len(room(bot, "still not acknowledged")) == 1
    # …and a later "I am safe" (perhaps forced too) does not clear it.
    await tick(bot, timedelta(hours=6))
    await bot.press(ANA, "I am safe")
    await tick(bot, timedelta(minutes=15))
    assert [o.text for o in bot.matrix.to(COORDINATOR) if ref in o.text]
    # A word typed when no question is open is just a message.
    assert len(room(bot, "SILENT ALERT")) == 1


async def test_the_word_is_deleted_from_the_chat_and_stored_hashed(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(ANA, "/checkin every 6h for 3d")
    word_id = str(int(bot.telegram.next_id()) + 1)  # the id the harness gives the next message
    replies = await bot.send(ANA, "sunflower")
    assert "Its message was deleted" in replies[0].text and ref in replies[0].text
    assert (ANA, word_id) in bot.telegram.deletions
    account = await bot.db.accounts.find(str(ANA))
    assert account is not None
    [series] = await bot.db.checkins.live_of(account.id)
    assert series.has_duress_word
    assert await bot.db.checkins.is_duress(series.id, "SUNFLOWER")
    assert not await bot.db.checkins.is_duress(series.id, "sunflowers")


async def test_stopped_checkins_ask_no_more(bot: Harness) -> None:
    ref = await set_up(bot)
    await tick(bot, timedelta(hours=6))
    assert len(questions(bot)) == 1
    replies = await bot.send(ANA, "/checkin stop")
    assert replies[0].text == "Check-ins stopped."
    assert room(bot, f"Check-ins for {ref} were stopped by the defender.")
    for _ in range(12):
        await tick(bot, timedelta(hours=6))
    assert len(questions(bot)) == 1
    assert room(bot, "Missed check-in") == []
    kinds = {d.kind for d in await bot.db.deadlines.pending()}
    assert not kinds & set(checkins.DEADLINE_KINDS)


async def test_checkins_end_after_their_length(bot: Harness) -> None:
    await full_report(bot, ANA, "en")
    await bot.send(ANA, "/checkin every 1d for 2d")
    await bot.press(ANA, "No duress word")
    for _ in range(3):
        await tick(bot, timedelta(days=1))
        if questions(bot):
            await bot.press(ANA, "I am safe")
    assert len(questions(bot)) == 1
    assert any("have ended" in o.text for o in bot.telegram.to(ANA))


async def test_i_need_help_starts_the_sos_path(bot: Harness) -> None:
    ref = await set_up(bot)
    await tick(bot, timedelta(hours=6))
    replies = await bot.press(ANA, "I need help")
    assert [o.text for o in replies if o.chat == ANA] == [
        f"The advisory group has been alerted. Write here what is happening, if you can: "
        f"it goes to them under {ref}."
    ]
    assert room(bot, f"🆘 SOS — case {ref}")
    await tick(bot, timedelta(minutes=10))
    await bot.send(ALICE, f"/ack {ref}", chat=TRIAGE)
    await tick(bot, timedelta(hours=1))
    assert room(bot, "still not acknowledged") == []


async def test_an_advisor_proposes_and_the_defender_accepts(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    replies = await bot.send(ALICE, f"/checkin {ref} every 12h for 7d", chat=TRIAGE)
    assert "proposed" in replies[-1].text
    await drain_outbox(bot)
    proposal = bot.telegram.last(ANA)
    assert "proposes safety check-ins" in proposal.text
    assert "alice" not in proposal.text.casefold()
    await bot.press(ANA, "Accept")
    await bot.press(ANA, "No duress word")
    await tick(bot, timedelta(hours=12))
    assert len(questions(bot)) == 1


async def test_checkin_for_a_case_is_refused_outside_the_advisory_group(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    stranger = Address(Platform.TELEGRAM, "9999")
    replies = await bot.send(stranger, f"/checkin {ref} every 6h for 3d", chat=MEMBER_GROUP)
    assert [o.text for o in replies] == ["This command is for the advisory group."]
    replies = await bot.send(stranger, f"/checkin {ref} every 6h for 3d")
    assert ref in replies[-1].text and "You have no case" in replies[-1].text
    assert await bot.db.checkins.live_for_case(ref) == []


async def test_bad_schedules_get_one_clear_message(bot: Harness) -> None:
    await full_report(bot, ANA, "en")
    for text in ("/checkin every 5m for 1d", "/checkin every 6h", "/checkin every 1d for 200d"):
        replies = await bot.send(ANA, text)
        assert len(replies) == 1
    account = await bot.db.accounts.find(str(ANA))
    assert account is not None and await bot.db.checkins.live_of(account.id) == []


async def test_a_duress_word_that_is_also_an_answer_is_refused(bot: Harness) -> None:
    await full_report(bot, ANA, "en")
    await bot.send(ANA, "/checkin every 6h for 3d")
    for word in ("1", "I am safe", "i need help"):
        replies = await bot.send(ANA, word)
        assert any("must be one short line" in o.text for o in replies if o.chat == ANA), word
    account = await bot.db.accounts.find(str(ANA))
    assert account is not None
    [series] = await bot.db.checkins.live_of(account.id)
    assert series.state == "word" and not series.has_duress_word


async def test_forget_ends_the_checkins(bot: Harness) -> None:
    await set_up(bot)
    await bot.send(ANA, "/forget")
    await bot.press(ANA, "Yes, erase my data")
    for _ in range(4):
        await tick(bot, timedelta(hours=6))
    assert questions(bot) == []
    assert room(bot, "Missed check-in") == []
