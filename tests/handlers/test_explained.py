"""Advisors' commands that explain themselves (issue 16, item 5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.messages import Address, Platform
from tests.handlers.test_appeals import (
    GOMA_ROOM,
    STRANGER,
    TIERRA_GROUP,
    TUNIS_GROUP,
    drafted,
    ready_appeal,
    say,
    seed,
)
from tests.handlers.test_intake import ANA, full_report
from tests.harness.bot import (
    ALICE,
    BOB,
    TRIAGE,
    Harness,
    default_settings,
    make_harness,
)

CARLOS = Address(Platform.MATRIX, "@carlos:localhost")
NAMES = {ALICE: "Ana Martín", BOB: "Bongani Dube", CARLOS: "Bárbara Ruiz"}


@pytest.fixture
async def named(tmp_path: Path) -> Harness:
    settings = replace(default_settings(advisors=(ALICE, BOB, CARLOS)), advisor_names=dict(NAMES))
    harness = await make_harness(tmp_path, settings)
    yield harness  # type: ignore[misc]
    await harness.close()


async def _case(bot: Harness) -> str:
    return await full_report(bot, ANA, "en")


@pytest.mark.parametrize(
    ("language", "explained"),
    [
        ("en", "set how urgent a case is"),
        ("es", "fijar la urgencia de un caso"),
        ("fr", "fixer l'urgence d'un cas"),
        ("ar", "تحديد مدى إلحاح الحالة"),
    ],
)
async def test_help_explains_every_command_in_four_languages(
    bot: Harness, language: str, explained: str
) -> None:
    overview = (await bot.send(ALICE, "/help", chat=TRIAGE, hint=language))[-1].text
    assert explained in overview
    priority = next(line for line in overview.splitlines() if "priority" in line)
    assert "critical|high|normal|low" in priority
    for command in ("/ack", "/assign", "/appeal", "/member", "/cases"):
        line = next(line for line in overview.splitlines() if command in line)
        assert " — " in line, f"{command} has no explanation"
    detail = (await bot.send(ALICE, "/help assign", chat=TRIAGE, hint=language))[-1].text
    assert "/assign [C-…] person" in detail
    assert "/assign C-7K3M9Q Ana" in detail, "an example"


async def test_help_appeal_lists_its_steps(bot: Harness) -> None:
    detail = (await bot.send(ALICE, "/help appeal", chat=TRIAGE))[-1].text
    lines = detail.splitlines()
    for step in ("new", "text", "target", "approve", "send", "outcome", "to", "delivered"):
        usage = next(line for line in lines if line.startswith(f"/appeal {step} "))
        assert " — " in usage, f"/appeal {step} is explained"
    assert any(line.strip().startswith("/appeal send A-7K3M9Q") for line in lines), "examples"
    assert "did you mean /ack" in (await bot.send(ALICE, "/help akc", chat=TRIAGE))[-1].text.lower()


async def test_an_unknown_command_gets_the_closest_known_one(bot: Harness) -> None:
    answer = (await bot.send(ALICE, "/akc C-7K3M9Q", chat=TRIAGE))[-1].text
    assert answer == "I do not know /akc. Did you mean /ack?"
    assert "Did you mean /appeal?" in (await bot.send(ALICE, "/apeal", chat=TRIAGE))[-1].text
    assert "/help lists" in (await bot.send(ALICE, "/zzzzzz", chat=TRIAGE))[-1].text
    before = len(bot.telegram.sent) + len(bot.matrix.sent)
    await bot.send(STRANGER, "/akc", chat=TIERRA_GROUP)
    assert len(bot.telegram.sent) + len(bot.matrix.sent) == before, "members' groups: silence"


async def test_assign_by_display_name_or_handle_prefix(named: Harness) -> None:
    bot = named
    ref = await _case(bot)
    assert f"{ref} assigned to Bongani Dube." == await say(
        bot, ALICE, f"/assign {ref} Bongani Dube"
    )
    assert f"{ref} assigned to Bárbara Ruiz." == await say(bot, ALICE, f"/assign {ref} carl")
    assert f"{ref} assigned to Ana Martín." == await say(bot, ALICE, f"/assign {ref} alice")
    assert f"{ref} assigned to Ana Martín." == await say(bot, ALICE, f"/assign {ref} Martín")
    ambiguous = await say(bot, ALICE, f"/assign {ref} b")
    assert "fits several advisors" in ambiguous
    assert "Bárbara Ruiz" in ambiguous and "Bongani Dube" in ambiguous
    assert "carlos" not in ambiguous and "2002" not in ambiguous
    assert "is not one of the advisors" in await say(bot, ALICE, f"/assign {ref} zoe")
    case = await bot.db.cases.get(ref)
    assert case.assignee == str(ALICE), "a refused /assign changed nothing"
    view = await say(bot, ALICE, f"/case {ref}", chat=ALICE)
    assert "Assigned to: Ana Martín" in view
    assert "assigned: Bongani Dube" in view and "@bob" not in view
    assert str(ALICE) not in view


async def test_next_step_after_the_last_approval(bot: Harness) -> None:
    await seed(bot)
    ref = await drafted(bot)
    first = await say(bot, ALICE, f"/appeal text {ref} en Free the defenders.")
    assert first == f"Text of {ref} in en saved.", "nothing to withdraw yet"
    assert "next" not in (await say(bot, ALICE, f"/appeal approve {ref}")).lower()
    second = await say(bot, BOB, f"/appeal approve {ref}", chat=BOB)
    assert second.splitlines()[-1] == f"Next: /appeal send {ref}"
    changed = await say(bot, ALICE, f"/appeal text {ref} en Free them now.")
    assert changed == f"Text of {ref} in en saved. Approvals so far were withdrawn."


async def test_reminder_when_everyone_signed_says_so(bot: Harness) -> None:
    await seed(bot)
    ref = await ready_appeal(bot)
    await say(bot, ALICE, f"/appeal send {ref}")  # delivered after the turn
    for group in (TIERRA_GROUP, TUNIS_GROUP):
        await bot.send(STRANGER, f"/sign {ref}", chat=group)
    await bot.send(Address(Platform.MATRIX, "@x:localhost"), f"/sign {ref}", chat=GOMA_ROOM)
    bot.take_broadcasts()
    await bot.advance(timedelta(days=14, hours=15, minutes=30))  # past the reminder time
    assert bot.take_broadcasts() == 0, "no reminder"
    notes = [o.text for o in bot.matrix.to(TRIAGE)]
    assert f"Every member group of {ref} has signed: no reminder was needed." in notes
    assert not any("0 of 0" in text for text in notes)


async def test_alerts_name_the_advisors(named: Harness) -> None:
    bot = named
    ref = await _case(bot)
    await bot.advance(timedelta(hours=3))  # "days" urgency: re-alerted after 120 minutes
    alert = next(o.text for o in bot.matrix.to(TRIAGE) if "not acknowledged" in o.text)
    assert ref in alert
    assert "Ana Martín (alice)" in alert, "a Matrix advisor's handle still rings"
    assert "Bongani Dube" in alert and "[2002]" not in alert, "a name, not a Telegram id"
