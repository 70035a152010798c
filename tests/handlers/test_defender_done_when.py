"""Issue 15's "Done when", where the existing tests left a gap (the review
of issue 15): names the network configured for its advisors never reach the
defender; a missed check-in escalates on time when the bot was down across
the escalation; voice and a location attached to the report itself reach
the encrypted room only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from handlers.messages import Address, Platform
from storage.records_casework import PartnerEntry
from tests.handlers.test_after_ask import LOCATION, PLAIN_ROOM, VIDEO, VOICE, files_in
from tests.handlers.test_checkins import questions, room, set_up, tick
from tests.handlers.test_intake import ANSWERS, full_report, ref_in
from tests.harness.bot import (
    ALICE,
    BOB,
    COORDINATOR,
    TRIAGE,
    default_settings,
    make_harness,
)

ANA = Address(Platform.TELEGRAM, "7001")
NAMES = {ALICE: "Maria Quispe", BOB: "Tomás Ruiz"}
TRACES = ("maria", "quispe", "tomás", "tomas", "ruiz", "alice", "@", "localhost", str(BOB.id))


async def test_no_notice_names_a_configured_advisor_or_shows_an_account(
    tmp_path: Path,
) -> None:
    bot = await make_harness(tmp_path, default_settings(advisor_names=NAMES))
    try:
        ref = await full_report(bot, ANA, "en")
        start = len(bot.telegram.to(ANA))
        await bot.db.partners.import_partners([PartnerEntry("Lawyers Collective", ("legal",))])
        for line in (
            f"/assign {ref} Tomás",
            f"/claim {ref}",
            f"/note {ref} Maria Quispe called the family",
            f"/ask {ref} Are you safe tonight?",
            f"/refer {ref} Lawyers Collective legal Tomás Ruiz follows it",
            f"/followup {ref} risk=high Maria checks again",
            f"/close {ref} outcome=risk_reduced Tomás closed it",
        ):
            replies = await bot.send(ALICE, line, chat=TRIAGE)
            assert [o for o in replies if o.chat == TRIAGE], line  # each was taken
        status = (await bot.send(ANA, "/status"))[-1].text
        told = [o.text for o in bot.telegram.to(ANA)[start:]]
        assert any("is handling it" in t for t in told)
        assert any("referred to Lawyers Collective" in t for t in told)
        assert any("Are you safe tonight?" in t for t in told)
        assert any("closed it" in t for t in told)
        for text in told:
            for trace in TRACES:
                assert trace not in text.casefold(), (trace, text)
    finally:
        await bot.scheduler.stop()
        await bot.db.close()
    assert "is handling it" in status


async def test_a_missed_checkin_escalates_at_once_after_a_restart_past_its_time(
    tmp_path: Path,
) -> None:
    first = await make_harness(tmp_path)
    ref = await set_up(first)
    await tick(first, timedelta(hours=6))  # asked
    await tick(first, timedelta(minutes=30))  # the grace period is over
    assert len(room(first, "Missed check-in")) == 1
    await first.scheduler.stop()
    await first.db.close()

    # Down for 40 minutes: both steps of the escalation (15 and 30 minutes) fell due
    # meanwhile. The restart runs them at once, each once; the alert card is not repeated.
    second = await make_harness(tmp_path)
    second.clock.advance(timedelta(hours=6, minutes=30 + 40))
    await second.advance(timedelta(seconds=1))  # the rooms, then (already due) the list
    await second.advance(timedelta(seconds=1))
    reminder = room(second, "still not acknowledged")
    assert len(reminder) == 1 and ref in reminder[0]
    assert len([o for o in second.matrix.to(COORDINATOR) if ref in o.text]) == 1
    assert room(second, "Missed check-in") == []
    await tick(second, timedelta(minutes=30))
    assert len(room(second, "still not acknowledged")) == 1, "escalated once, not per tick"
    # The series goes on: the next question comes.
    await tick(second, timedelta(hours=6))
    assert questions(second)
    await second.scheduler.stop()
    await second.db.close()


async def test_an_sos_case_escalates_at_once_after_a_restart_past_both_steps(
    tmp_path: Path,
) -> None:
    first = await make_harness(tmp_path)
    await first.send(ANA, "/sos they are at the door")
    ref = ref_in(first.matrix.to(TRIAGE)[0].text)  # the SOS card
    await first.close()

    # Down for 40 minutes: the rooms' reminder (15 min) and the escalation list
    # (15 min after that) both fell due meanwhile. Each runs at once, once.
    second = await make_harness(tmp_path)
    second.clock.advance(timedelta(minutes=40))
    await second.advance(timedelta(seconds=1))  # the rooms, then (already due) the list
    await second.advance(timedelta(seconds=1))
    assert len(room(second, f"Case {ref} (immediate) is still not acknowledged")) == 1
    listed = [o.text for o in second.matrix.to(COORDINATOR) if ref in o.text]
    assert len(listed) == 1 and "unacknowledged twice" in listed[0]
    await tick(second, timedelta(minutes=30))
    assert len(room(second, "is still not acknowledged")) == 1, "escalated once, not per tick"
    assert len([o for o in second.matrix.to(COORDINATOR) if ref in o.text]) == 1
    await second.close()


async def test_voice_video_and_location_in_the_report_reach_only_the_encrypted_room(
    tmp_path: Path,
) -> None:
    settings = default_settings(
        advisory_rooms=(TRIAGE, PLAIN_ROOM), allow_content_in_unencrypted_rooms=True
    )
    bot = await make_harness(tmp_path, settings)
    try:
        what, where, who = ANSWERS["en"]
        await bot.send(ANA, "/start", hint="en")
        await bot.press(ANA, "lang:en")
        await bot.send(ANA, "/report")
        await bot.send(ANA, what, attachments=(VOICE,))
        await bot.send(ANA, attachments=(VIDEO,))
        await bot.send(ANA, attachments=(LOCATION,))
        await bot.press(ANA, "what:done")
        await bot.send(ANA, where)
        await bot.send(ANA, who)
        await bot.press(ANA, "urgency:days")
        await bot.press(ANA, "consent:advisory_only")
        await bot.press(ANA, "contact:skip")
        replies = await bot.press(ANA, "summary:confirm")
        ref = ref_in(next(o for o in replies if o.chat == ANA and "C-" in o.text).text)
        # The encrypted room: the card, the voice note, the video, the place.
        assert sorted(files_in(bot, TRIAGE)) == ["clip.mp4", "voice.ogg"]
        located = [o.text for o in bot.matrix.to(TRIAGE) if "Location shared" in o.text]
        assert len(located) == 1 and "openstreetmap.org/?mlat=2.44480&mlon=-76.61470" in located[0]
        # The unencrypted room, content allowed: the card and the report, no voice,
        # no video, no place; told that they exist.
        assert files_in(bot, PLAIN_ROOM) == []
        plain = " ".join(o.text for o in bot.matrix.to(PLAIN_ROOM))
        assert f"New case {ref}" in plain and what in plain
        assert "2.444" not in plain and "76.61" not in plain and "openstreetmap" not in plain
        assert f"A location was shared on {ref}." in plain
    finally:
        await bot.scheduler.stop()
        await bot.db.close()
