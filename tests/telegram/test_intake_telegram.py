"""A defender's report over the real python-telegram-bot stack, end to end."""

from __future__ import annotations

import re

import pytest

from handlers.i18n import render
from tests.fakes.telegram.server import FakeUser, StoredMessage
from tests.telegram.conftest import TelegramWorld, start_app

REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")


def last_id(world: TelegramWorld, user: FakeUser) -> int:
    history = world.server.history(user.id)
    return max((m.message_id for m in history), default=0)


async def say(world: TelegramWorld, user: FakeUser, text: str) -> StoredMessage:
    """The user writes; the bot's first answer to it."""
    world.server.user_sends(user, user, text)
    return await world.server.wait_for_message(user.id, after=last_id(world, user))


async def press(world: TelegramWorld, user: FakeUser, label: str) -> StoredMessage:
    """Press ``label`` on the newest question offering it (waiting for it)."""
    last = world.pressed.get(user.id, 0)
    question = await world.server.wait_for_message(
        user.id, lambda m: label in m.button_texts and m.message_id > last
    )
    world.pressed[user.id] = question.message_id
    before = last_id(world, user)
    world.server.press_button(user, user, question.message_id, text=label)
    return await world.server.wait_for_message(user.id, after=before)


LABELS = {
    lang: {
        key: render(lang, msg)
        for key, msg in {
            "done": "Done",
            "days": "Within days",
            "anon": "Public appeal, anonymised",
            "skip": "Skip",
            "send": "Send the report",
        }.items()
    }
    for lang in ("en", "es", "fr", "ar")
}


async def start_report(world: TelegramWorld, language: str, what: str) -> FakeUser:
    """A new defender, whose Telegram is in ``language``, starts a report: what
    happened, Done, and where (Cauca); the defender."""
    user = world.server.new_user("Defender", language_code=language)
    await say(world, user, "/report")
    await say(world, user, what)
    await press(world, user, LABELS[language]["done"])
    await say(world, user, "Cauca")
    return user


async def send_report(
    world: TelegramWorld, user: FakeUser, language: str = "en"
) -> tuple[str, StoredMessage]:
    """Send the report from its summary: the case reference on the receipt, and the
    card with it that the triage room got."""
    receipt = await press(world, user, LABELS[language]["send"])
    match = REF.search(receipt.text or "")
    assert match, receipt.text
    ref = match.group(0)
    card = await world.server.wait_for_message(world.triage.id, lambda m: ref in (m.text or ""))
    return ref, card


@pytest.mark.parametrize("language", ["en", "es", "fr", "ar"])
async def test_start_to_case_reference_and_card(world: TelegramWorld, language: str) -> None:
    user = await start_report(world, language, "<b>Armed men</b> came to *our* office")
    labels = LABELS[language]
    await say(world, user, "Ana & the collective")
    await press(world, user, labels["days"])
    await press(world, user, labels["anon"])
    await press(world, user, labels["skip"])
    _, card = await send_report(world, user, language)
    # User text is shown literally: no parse mode, no entity made of it.
    assert "<b>Armed men</b> came to *our* office" in (card.text or "")
    formatting = {"bold", "italic", "underline", "strikethrough", "code", "pre", "text_link"}
    assert not [r for r in world.server.requests if "parse_mode" in r.params]
    assert not [e for e in card.entities if e["type"] in formatting]
    # The whole exchange used opaque button tokens, never the option keys.
    for message in world.server.messages_to(user.id):
        for data in message.callback_data:
            assert ":" not in data and len(data.encode()) <= 64


async def test_pending_updates_are_answered_after_a_restart(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    await say(world, user, "/report")
    await world.app.stop()
    world.server.user_sends(user, user, "They burned the community radio.")  # while down
    world.app = await start_app(
        world.server, world.path, (world.path / "extra.toml").read_text(), world.clock
    )
    answer = await world.server.wait_for_message(
        user.id, lambda m: "Done" in m.button_texts and "Noted" in (m.text or "")
    )
    assert answer.text is not None


async def test_long_texts_are_split_below_4096(world: TelegramWorld) -> None:
    user = world.server.new_user("Defender")
    await say(world, user, "/report")
    for _ in range(3):
        await say(world, user, "word " * 1500)
    await press(world, user, "Done")
    for answer in ("Cauca", "me"):
        await say(world, user, answer)
    await press(world, user, "Within days")
    await press(world, user, "Advisory group only")
    summary = await press(world, user, "Skip")
    assert summary.text is not None and len(summary.text) <= 4096
    assert world.server.requests_for("sendMessage") and all(
        r.status == 200 for r in world.server.requests_for("sendMessage")
    )
