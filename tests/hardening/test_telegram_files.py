"""Telegram: files sent in groups are never downloaded; per-chat locks are freed."""

from __future__ import annotations

import asyncio

from bot.transports.telegram import TelegramTransport
from tests.fakes.telegram.server import tiny_png
from tests.telegram.conftest import TelegramWorld
from tests.telegram.test_intake_telegram import last_id, say


def transport(world: TelegramWorld) -> TelegramTransport:
    [found] = [t for t in world.app.transports if isinstance(t, TelegramTransport)]
    return found


async def test_a_photo_in_a_group_is_not_downloaded(world: TelegramWorld) -> None:
    member = world.advisor  # someone the group's messages surely come from
    world.server.user_sends_photo(member, world.triage, tiny_png(4, 4), caption="/help")
    world.server.user_sends_document(
        member, world.triage, b"%PDF-1.4 x", file_name="a.pdf", caption="/cases"
    )
    before = max((m.message_id for m in world.server.history(world.triage.id)), default=0)
    world.server.user_sends(world.advisor, world.triage, "/cases")
    # Updates of one chat are handled in order: the answer comes after the files
    # (captioned with commands, so that the group's privacy mode lets them through).
    await world.server.wait_for_message(world.triage.id, after=before)
    assert not world.server.requests_for("getFile")


async def test_per_chat_locks_are_freed(world: TelegramWorld) -> None:
    for n in range(5):
        user = world.server.new_user(f"Person {n}")
        await say(world, user, "/help")
        assert last_id(world, user)
    tasks = transport(world)._inflight
    if tasks:  # the last turn may still be finishing after its answer went out
        await asyncio.wait(list(tasks))
    assert transport(world)._locks == {}
