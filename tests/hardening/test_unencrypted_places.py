"""No content where the bot writes to a chat that is not end-to-end encrypted
(private chats with advisors on Telegram included), unless the operator set
``allow_content_in_unencrypted_rooms``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.broadcast import ProgressReporter
from handlers.messages import Address, Platform
from tests.handlers.test_appeals import TIERRA_GROUP, ready_appeal, seed
from tests.handlers.test_intake import ANA, ANSWERS, full_report
from tests.harness.bot import (
    ALICE,
    BOB,
    TRIAGE,
    Harness,
    default_settings,
    drain_outbox,
    make_harness,
)

TG_TRIAGE = Address(Platform.TELEGRAM, "-100777")
WHAT, WHERE, WHO = ANSWERS["en"]


async def harness(tmp_path: Path, allow: bool) -> Harness:
    settings = default_settings(
        advisory_rooms=(TRIAGE, TG_TRIAGE), allow_content_in_unencrypted_rooms=allow
    )
    bot = await make_harness(tmp_path, settings)
    await seed(bot)
    return bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    bot = await harness(tmp_path, allow=False)
    yield bot
    await bot.close()


async def answer(bot: Harness, who: Address, text: str, chat: Address) -> str:
    replies = [o for o in await bot.send(who, text, chat=chat) if o.chat == chat]
    assert replies
    return "\n".join(o.text for o in replies)


async def test_case_in_a_telegram_private_chat_shows_no_content(bot: Harness) -> None:
    ref = await full_report(bot, ANA, "en")
    await bot.send(BOB, f"/note {ref} called the lawyer", chat=TG_TRIAGE)
    view = await answer(bot, BOB, f"/case {ref}", chat=BOB)  # Telegram: not encrypted
    assert ref in view and "not end-to-end encrypted" in view
    for content in (WHAT, WHERE, WHO, "called the lawyer"):
        assert content not in view
    full = await answer(bot, ALICE, f"/case {ref}", chat=ALICE)  # Matrix direct chat: E2EE
    for content in (WHAT, WHERE, WHO, "called the lawyer"):
        assert content in full


async def test_member_list_in_a_telegram_triage_group_names_no_one(bot: Harness) -> None:
    listing = await answer(bot, BOB, "/member list", chat=TG_TRIAGE)
    assert "Members: 3" in listing and "Colectivo Tierra" not in listing
    assert "Colectivo Tierra" in await answer(bot, ALICE, "/member list", chat=TRIAGE)


async def test_appeal_show_and_export_in_a_telegram_triage_group(bot: Harness) -> None:
    ref = await ready_appeal(bot)
    shown = await answer(bot, BOB, f"/appeal show {ref}", chat=TG_TRIAGE)
    assert "Free the defenders" not in shown
    before = len(bot.telegram.sent)
    refused = await answer(bot, BOB, f"/appeal export {ref}", chat=TG_TRIAGE)
    assert "not end-to-end encrypted" in refused
    assert not any(o.file for o in bot.telegram.sent[before:])


async def test_the_closing_report_names_members_only_where_encrypted(bot: Harness) -> None:
    ref = await ready_appeal(bot)
    bot.messenger(TIERRA_GROUP.platform).gone.add(TIERRA_GROUP)  # the group removed the bot
    await answer(bot, ALICE, f"/appeal send {ref}", chat=TRIAGE)  # delivered by the harness
    await ProgressReporter(bot.services).tick()
    await drain_outbox(bot)  # the reports to the rooms
    encrypted, plain = bot.matrix.last(TRIAGE).text, bot.telegram.last(TG_TRIAGE).text
    assert "sending finished" in encrypted and "Colectivo Tierra" in encrypted
    assert "sending finished" in plain and "inactive: 1" in plain
    assert "Colectivo Tierra" not in plain and str(TIERRA_GROUP.id) not in plain


async def test_the_operator_may_allow_content(tmp_path: Path) -> None:
    bot = await harness(tmp_path, allow=True)
    try:
        ref = await full_report(bot, ANA, "en")
        assert WHAT in await answer(bot, BOB, f"/case {ref}", chat=BOB)
        assert "Colectivo Tierra" in await answer(bot, BOB, "/member list", chat=TG_TRIAGE)
    finally:
        await bot.close()
