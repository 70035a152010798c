"""limits.reports_per_day per account: over it, /sos updates the latest open case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.messages import Address, Platform
from storage.records import Case, EventKind
from tests.handlers.test_intake import ref_in
from tests.harness.bot import TRIAGE, Harness, default_settings, make_harness

ANA = Address(Platform.TELEGRAM, "7201")
LUIS = Address(Platform.TELEGRAM, "7202")


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await make_harness(tmp_path, default_settings(reports_per_day=3))
    yield harness
    await harness.close()


async def sos_then_cancel(bot: Harness, who: Address, text: str) -> list[str]:
    replies = await bot.send(who, f"/sos {text}")
    await bot.send(who, "/cancel")
    return [o.text for o in replies]


async def cases_of(bot: Harness, who: Address) -> list[Case]:
    """The cases of ``who``'s account, the latest first."""
    account = await bot.db.accounts.find(str(who))
    assert account is not None
    return await bot.db.cases.cases_of(account.id)


async def up_to_the_limit(bot: Harness, who: Address) -> str:
    """As many ``/sos`` as a day allows (3 here); the latest case's reference."""
    for n in range(3):
        await sos_then_cancel(bot, who, f"first {n}")
    return (await cases_of(bot, who))[0].ref


async def test_sos_flood_makes_at_most_the_limit_of_cases(bot: Harness) -> None:
    for n in range(14):
        await sos_then_cancel(bot, ANA, f"flood {n}")
    assert len(await cases_of(bot, ANA)) == 3
    cards = [o for o in bot.matrix.to(TRIAGE) if "new case" in o.text.lower()]
    assert len(cards) == 3
    escalations = [d for d in await bot.db.deadlines.pending() if d.kind == "escalation"]
    assert len(escalations) == 3


async def test_sos_over_the_limit_reaches_the_latest_open_case(bot: Harness) -> None:
    latest = await up_to_the_limit(bot, ANA)
    room_before = len(bot.matrix.to(TRIAGE))
    replies = await sos_then_cancel(bot, ANA, "they are at the door")
    # Never a refusal: the defender is told the group was alerted, on which case.
    assert any("alerted" in text and latest in text for text in replies)
    history = await bot.db.cases.history(latest)
    assert history[-1].kind == EventKind.UPDATE and history[-1].value == "sos"
    assert history[-1].text == "they are at the door"
    alerts = bot.matrix.to(TRIAGE)[room_before:]
    assert len(alerts) == 1 and "SOS" in alerts[0].text and latest in alerts[0].text
    assert (await bot.db.cases.get(latest)).urgency == "immediate"


async def test_the_limit_is_per_account_and_per_day(bot: Harness) -> None:
    await up_to_the_limit(bot, ANA)
    replies = await sos_then_cancel(bot, LUIS, "luis")  # another account: a new case
    ref = ref_in(next(t for t in replies if "C-" in t))
    assert (await bot.db.cases.get(ref)).what == "luis"
    bot.clock.advance(timedelta(hours=24, minutes=1))
    await sos_then_cancel(bot, ANA, "next day")
    assert len(await cases_of(bot, ANA)) == 4


async def test_alerted_again_only_once_a_room_has_the_alarm(bot: Harness) -> None:
    latest = await up_to_the_limit(bot, ANA)
    bot.matrix.failing.add(TRIAGE)  # the advisory room cannot be reached for now
    replies = await sos_then_cancel(bot, ANA, "they are back")
    assert not any("alerted" in text for text in replies), "no promise before a room has it"
    bot.matrix.failing.discard(TRIAGE)
    await bot.advance(timedelta(seconds=31))  # the outbox retries
    alerted = [o.text for o in bot.telegram.to(ANA) if "alerted again" in o.text]
    assert len(alerted) == 1 and latest in alerted[0]
    assert any("SOS again" in o.text and latest in o.text for o in bot.matrix.to(TRIAGE))
