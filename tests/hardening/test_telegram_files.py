"""Telegram: a file is downloaded only after the rate limit and a step that takes
files said yes (never in groups but for /propose, never where no step takes
it, never over the limit); per-chat locks are freed."""

from __future__ import annotations

import asyncio

from bot.transports.telegram import TelegramTransport
from tests.fakes.telegram.objects import FakeUser
from tests.fakes.telegram.server import tiny_png
from tests.telegram.conftest import TelegramWorld
from tests.telegram.test_intake_telegram import last_id, press, say


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


# -- a private chat: ask first (rate limit, then does a step take files), download after


async def send_photo(
    world: TelegramWorld, user: FakeUser, expect: str, caption: str | None = None
) -> None:
    """The user sends a photo in their private chat; the bot answers ``expect``."""
    before = last_id(world, user)
    world.server.user_sends_photo(user, user, tiny_png(4, 4), caption=caption)
    await world.server.wait_for_message(user.id, lambda m: m.text == expect, after=before)


async def test_a_photo_where_no_step_takes_files_is_not_downloaded(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender", language_code="en")
    # No report open: nothing takes a file.
    await send_photo(
        world,
        user,
        "To report a threat, send /report. If you are in danger now, send /sos. "
        "/help lists everything.",
    )
    # The report's second question takes words only.
    await say(world, user, "/report")
    await say(world, user, "Armed men came to our office")
    await press(world, user, "Done")
    await send_photo(
        world, user, "Please answer in words here; files belong to the first question.", "Cauca"
    )
    assert not world.server.requests_for("getFile")


async def test_a_photo_over_the_rate_limit_is_not_downloaded(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender", language_code="en")
    await say(world, user, "/report")  # the first question takes files...
    world.app.router.limiter.per_minute = 2  # ...but this is the sender's third message
    await say(world, user, "Armed men came to our office")
    await send_photo(world, user, "You are sending messages too fast. Please wait a minute.")
    assert not world.server.requests_for("getFile")


async def test_a_photo_the_first_question_takes_is_downloaded_once(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender", language_code="en")
    await say(world, user, "/report")
    await send_photo(world, user, "Noted. Add more, or press Done.")
    assert len(world.server.requests_for("getFile")) == 1
    db = world.app.services.db
    account = await db.accounts.find(f"telegram:{user.id}")
    assert account is not None
    conversation = await db.conversations.load(account.id)
    assert conversation is not None
    assert len(conversation.data["draft"]["attachments"]) == 1
