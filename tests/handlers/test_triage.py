"""The advisory group's work, driven through the real router, storage and scheduler."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from handlers.messages import Address, Platform
from storage import Referral
from storage.records_casework import PartnerEntry
from tests.handlers.test_intake import full_report, ref_in
from tests.harness.bot import ALICE, BOB, COORDINATOR, TRIAGE, Harness, make_harness

ANA = Address(Platform.TELEGRAM, "7001")
SARA = Address(Platform.MATRIX, "@sara:localhost")
MEMBER_GROUP = Address(Platform.TELEGRAM, "-100777")
STRANGER = Address(Platform.TELEGRAM, "9999")


async def sos_case(bot: Harness, who: Address = ANA, text: str = "they are here") -> str:
    await bot.send(who, f"/sos {text}")
    return ref_in(bot.matrix.to(TRIAGE)[-1].text)


def alerts(bot: Harness, ref: str) -> list[str]:
    return [o.text for o in bot.matrix.to(TRIAGE) if ref in o.text and "not acknowledged" in o.text]


def escalations(bot: Harness, ref: str) -> list[str]:
    return [o.text for o in bot.matrix.to(COORDINATOR) if ref in o.text]


async def test_escalation_fires_once_per_step(bot: Harness) -> None:
    ref = await sos_case(bot)
    await bot.advance(timedelta(minutes=14))
    assert alerts(bot, ref) == []
    await bot.advance(timedelta(minutes=1))
    assert len(alerts(bot, ref)) == 1
    assert "@alice:localhost" in alerts(bot, ref)[0], "the advisors are mentioned"
    assert escalations(bot, ref) == []
    await bot.advance(timedelta(minutes=14))
    assert escalations(bot, ref) == []
    await bot.advance(timedelta(minutes=1))
    assert len(escalations(bot, ref)) == 1
    for _ in range(10):
        await bot.advance(timedelta(hours=1))
    assert len(alerts(bot, ref)) == 1 and len(escalations(bot, ref)) == 1


async def test_ack_stops_escalation(bot: Harness) -> None:
    ref = await sos_case(bot)
    await bot.advance(timedelta(minutes=10))
    replies = await bot.send(ALICE, f"/ack {ref}", chat=TRIAGE)
    assert "acknowledged" in replies[-1].text
    for _ in range(6):
        await bot.advance(timedelta(minutes=15))
    assert alerts(bot, ref) == [] and escalations(bot, ref) == []


async def test_ack_between_the_two_steps_stops_the_second(bot: Harness) -> None:
    ref = await sos_case(bot)
    await bot.advance(timedelta(minutes=15))
    assert len(alerts(bot, ref)) == 1
    await bot.send(ALICE, f"!ACK {ref.lower().replace('-', '')}", chat=TRIAGE)
    await bot.advance(timedelta(hours=2))
    assert escalations(bot, ref) == []


async def test_urgency_sets_the_delay(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")  # urgency "days": 120 minutes
    await bot.advance(timedelta(minutes=119))
    assert alerts(bot, ref) == []
    await bot.advance(timedelta(minutes=1))
    assert len(alerts(bot, ref)) == 1


async def test_restart_before_the_deadline_still_escalates_on_time(tmp_path: Path) -> None:
    first = await make_harness(tmp_path)
    ref = await sos_case(first)
    start = first.clock.now()
    await first.close()

    second = await make_harness(tmp_path)
    second.clock.advance(second.clock.now() - second.clock.now())  # same fake start time
    assert second.clock.now() == start
    await second.advance(timedelta(minutes=15))
    assert len(alerts(second, ref)) == 1
    await second.close()


async def test_a_late_deadline_acts_once(bot: Harness) -> None:
    ref = await sos_case(bot)
    # The bot was down for three hours: both steps are overdue at once.
    await bot.advance(timedelta(hours=3))
    assert len(alerts(bot, ref)) == 1
    assert escalations(bot, ref) == [], "the second step waits its own interval from now"
    await bot.advance(timedelta(minutes=15))
    assert len(escalations(bot, ref)) == 1
    await bot.advance(timedelta(hours=3))
    assert len(alerts(bot, ref)) == 1 and len(escalations(bot, ref)) == 1


COMMANDS = [
    "/ack {ref}",
    "/claim {ref}",
    "/assign {ref} @alice",
    "/priority {ref} high",
    "/state {ref} action",
    "/verify {ref} confirmed",
    "/note {ref} x",
    "/ask {ref} hello",
    "/refer {ref} Lawyers Collective legal",
    "/followup {ref} risk=high",
    "/close {ref} outcome=resolved done",
    "/case {ref}",
    "/cases all",
    "/tag {ref} country=CO threat=death_threat",
    "/referral R-000000 accepted",
    "/agenda",
    "/stats 2026",
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "where",
    ["member group", "private chat", "unknown room", "advisor in member group"],
)
async def test_triage_commands_are_refused_without_a_leak(
    bot: Harness, command: str, where: str
) -> None:
    ref = await sos_case(bot, text="secret details")
    sender, chat = {
        "member group": (STRANGER, MEMBER_GROUP),
        "private chat": (STRANGER, STRANGER),
        "unknown room": (STRANGER, Address(Platform.TELEGRAM, "-100999")),
        "advisor in member group": (BOB, MEMBER_GROUP),
    }[where]
    before = await bot.db.cases.get(ref)
    real = await bot.send(sender, command.format(ref=ref), chat=chat)
    fake = await bot.send(sender, command.format(ref="C-000000"), chat=chat)
    assert [o.text for o in real] == [o.text for o in fake], "existence must not show"
    assert len(real) == 1 and real[0].chat == chat
    assert ref not in real[0].text and "secret" not in real[0].text
    after = await bot.db.cases.get(ref)
    assert (after.state, after.acknowledged_at, after.priority) == (
        before.state,
        before.acknowledged_at,
        before.priority,
    )
    assert all(o.chat != ANA for o in real + fake), "nothing reaches the defender"


async def test_card_to_close_with_ask_round_trips(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    card = next(o for o in bot.matrix.to(TRIAGE) if ref in o.text and "New case" in o.text)
    # Replying to the card may leave out the reference.
    replies = await bot.send(ALICE, "/ack", chat=TRIAGE, reply_to=card.message_id)
    assert ref in replies[-1].text
    await bot.send(ALICE, "/priority high", chat=TRIAGE, reply_to=card.message_id)
    await bot.send(ALICE, f"/assign {ref} @bob".replace("@bob", "2002"), chat=TRIAGE)
    await bot.send(ALICE, f"/verify {ref} confirmed", chat=TRIAGE)
    await bot.send(ALICE, f"/state {ref} action", chat=TRIAGE)
    await bot.send(ALICE, f"/note {ref} called the lawyer", chat=TRIAGE)
    # /ask reaches the defender from "the advisory group", not from Alice.
    await bot.send(ALICE, f"/ask {ref} Are you safe tonight?", chat=TRIAGE)
    question = bot.telegram.last(ANA).text
    assert "advisory group" in question and "Are you safe tonight?" in question
    assert "alice" not in question.lower()
    # The defender's answer returns under the reference, without their account.
    await bot.send(ANA, "Yes, we moved to a safe house.")
    relayed = bot.matrix.last(TRIAGE).text
    assert ref in relayed and "safe house" in relayed and "7001" not in relayed
    await bot.db.partners.import_partners([PartnerEntry("Lawyers Collective", ("legal",))])
    await bot.send(ALICE, f"/refer {ref} Lawyers Collective legal", chat=TRIAGE)
    await bot.send(ALICE, f"/followup {ref} risk=medium", chat=TRIAGE)
    await bot.advance(timedelta(days=15))  # the follow-up came and went
    replies = await bot.send(
        ALICE, f"/close {ref} outcome=risk_reduced safe and relocated", chat=TRIAGE
    )
    assert "closed" in replies[-1].text
    case = await bot.db.cases.get(ref)
    assert (case.state, case.priority, case.verification) == ("closed", "high", "confirmed")
    assert case.assignee == str(BOB)
    view = (await bot.send(ALICE, f"/case {ref}"))[-1].text  # private chat with the bot
    for word in ("note", "question", "referred", "closed", "called the lawyer"):
        assert word in view
    status = (await bot.send(ANA, "/status"))[-1].text
    assert "closed" in status and "lawyer" not in status and "alice" not in status.lower()


async def test_defender_with_several_open_cases_is_asked_which(bot: Harness) -> None:
    first = await full_report(bot, ANA, "en")
    second = await full_report(bot, ANA, "en")
    replies = await bot.send(ANA, "They followed me again.")
    assert {o.label for o in replies[-1].options} == {first, second}
    await bot.press(ANA, second)
    relayed = bot.matrix.last(TRIAGE).text
    assert second in relayed and "followed me again" in relayed


async def test_cases_lists_and_unknown_reference(bot: Harness) -> None:
    ref = await sos_case(bot)
    listing = (await bot.send(ALICE, "/cases", chat=TRIAGE))[-1].text
    assert ref in listing and "NOT acknowledged" in listing
    mine = (await bot.send(ALICE, "/cases mine", chat=TRIAGE))[-1].text
    assert ref not in mine
    await bot.send(ALICE, f"/claim {ref}", chat=TRIAGE)
    assert ref in (await bot.send(ALICE, "/cases mine", chat=TRIAGE))[-1].text
    missing = (await bot.send(ALICE, "/ack C-000000", chat=TRIAGE))[-1].text
    assert "no case" in missing.lower()
    usage = (await bot.send(ALICE, f"/priority {ref} urgent", chat=TRIAGE))[-1].text
    assert "/priority [C-…] critical|high|normal|low" in usage


async def test_every_referral_kind_the_command_offers_is_stored(bot: Harness) -> None:
    """The command, the partner directory and storage share one vocabulary
    (storage.records.Referral): before, /refer offered "digital" and storage
    refused it."""
    ref = await sos_case(bot)
    await bot.db.partners.import_partners([PartnerEntry("Partner", tuple(Referral))])
    for kind in Referral:
        replies = await bot.send(ALICE, f"/refer {ref} Partner {kind}", chat=TRIAGE)
        assert (
            replies[-1].text.startswith("Referral R-") and f"{ref} to Partner" in replies[-1].text
        )
    referred = [r.kind for r in await bot.db.partners.of_case(ref)]
    assert sorted(referred) == sorted(Referral)


async def test_daily_digest_lists_open_and_unacknowledged(bot: Harness) -> None:
    ref = await sos_case(bot)
    await bot.advance(timedelta(days=1))
    digests = [o.text for o in bot.matrix.to(TRIAGE) if "Daily digest" in o.text]
    assert len(digests) == 1 and ref in digests[0]
    await bot.advance(timedelta(days=1))
    assert len([o for o in bot.matrix.to(TRIAGE) if "Daily digest" in o.text]) == 2


async def test_followup_reminder_fires_when_due(bot: Harness) -> None:
    ref = await sos_case(bot)
    await bot.send(ALICE, f"/ack {ref}", chat=TRIAGE)
    await bot.send(ALICE, f"/followup {ref} risk=critical", chat=TRIAGE)  # 2 days
    await bot.advance(timedelta(days=1, hours=23))
    assert not [o for o in bot.matrix.to(TRIAGE) if "Follow-up due" in o.text]
    await bot.advance(timedelta(hours=1))
    reminders = [o for o in bot.matrix.to(TRIAGE) if "Follow-up due" in o.text and ref in o.text]
    assert len(reminders) == 1


async def test_an_answer_to_ask_during_an_open_draft_goes_to_the_group(bot: Harness) -> None:
    ref = await sos_case(bot)  # the SOS questionnaire stays open: "Where…?"
    await bot.send(ALICE, f"/ask {ref} Are you hurt?", chat=TRIAGE)
    replies = await bot.send(ANA, "No, but they took my phone.")
    relayed = bot.matrix.last(TRIAGE).text
    assert ref in relayed and "took my phone" in relayed
    assert [o for o in replies if o.chat == ANA][
        -1
    ].text == "Where is this happening? Country and place."
    await bot.send(ANA, "Bogotá")
    case = await bot.db.cases.get(ref)
    assert case.where != "No, but they took my phone."
    account = await bot.db.accounts.get_or_create(str(ANA), None)
    draft = await bot.db.conversations.load(account.id)
    assert draft is not None and draft.data["draft"]["where"] == "Bogotá"


async def test_help_shows_what_each_person_can_do(bot: Harness) -> None:
    advisor = (await bot.send(ALICE, "/help", chat=TRIAGE))[-1].text
    assert "/priority [C-…] critical|high|normal|low" in advisor and "/appeal" in advisor
    defender = (await bot.send(ANA, "/help"))[-1].text
    assert "/report" in defender and "/priority" not in defender
    member = (await bot.send(STRANGER, "/help", chat=MEMBER_GROUP))[-1].text
    assert "/sign A-… [organisation]" in member and "/priority" not in member


async def test_the_rate_limit_runs_on_real_time_not_the_fake_clock(bot: Harness) -> None:
    ticks = iter(range(0, 10_000, 3))
    bot.router.limiter.clock = lambda: float(next(ticks))  # a message every 3 seconds
    for _ in range(40):
        replies = await bot.send(ANA, "/status")
        assert "too fast" not in replies[-1].text
    bot.router.limiter.clock = lambda: 5_000.0  # a burst within one second
    answers = [(await bot.send(ANA, "/status"))[-1].text for _ in range(31)]
    assert "too fast" in answers[-1]
