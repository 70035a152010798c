"""One helper tells the advisory rooms: each room on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from handlers import rooms
from handlers.messages import Address, Platform
from handlers.settings import Settings
from tests.harness.bot import (
    COORDINATOR,
    TRIAGE,
    Harness,
    default_settings,
    drain_outbox,
    make_harness,
)

GONE = Address(Platform.TELEGRAM, "-4001")
ELSEWHERE = Address(Platform.TELEGRAM, "-4002")
UNSERVED = Address(Platform.WEB, "room")  # no web transport in this harness

Open = Callable[[Settings], AbstractAsyncContextManager[Harness]]


@pytest.fixture
def harness(tmp_path: Path) -> Open:
    @asynccontextmanager
    async def open_(settings: Settings) -> AsyncIterator[Harness]:
        bot = await make_harness(tmp_path, settings)
        try:
            yield bot
        finally:
            await bot.close()

    return open_


async def test_an_unreachable_room_does_not_keep_the_others_from_their_message(
    harness: Open,
) -> None:
    settings = default_settings(advisory_rooms=(GONE, UNSERVED, TRIAGE, ELSEWHERE))
    async with harness(settings) as bot:
        bot.telegram.gone.add(GONE)
        files = [("tally.csv", b"a,b\n", "text/csv", "A-9TXW3B")]
        # Queued for every room whose platform runs here; a gone room fails alone.
        assert await rooms.tell_rooms(bot.services, "Signing closed.", files=files) == 3
        await drain_outbox(bot)
        for messenger, room in ((bot.matrix, TRIAGE), (bot.telegram, ELSEWHERE)):
            sent = messenger.to(room)
            assert [o.text for o in sent] == ["Signing closed.", "A-9TXW3B"]
            assert sent[1].file == ("tally.csv", b"a,b\n", "text/csv")
        assert bot.telegram.to(GONE) == []


async def test_a_notice_is_in_the_default_language_and_can_reach_people(harness: Open) -> None:
    async with harness(default_settings(default_language="es")) as bot:
        message = "Case {ref} was withdrawn by the defender; its content is erased."
        assert await rooms.notice(bot.services, message, ref="C-7K4QM2") == 1
        await drain_outbox(bot)
        [shown] = bot.matrix.to(TRIAGE)
        assert "C-7K4QM2" in shown.text and not shown.text.startswith("Case")
        await rooms.tell_rooms(bot.services, "⚠", to=(COORDINATOR,))
        await drain_outbox(bot)
        assert [o.text for o in bot.matrix.to(COORDINATOR)] == ["⚠"]
