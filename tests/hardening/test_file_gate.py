"""``Router.takes_files``: what a transport asks before it downloads a file."""

from __future__ import annotations

from datetime import timedelta

from handlers.conversation.record import await_reply
from handlers.messages import Address, IncomingMessage, Platform
from tests.harness.bot import Harness

PERSON = Address(Platform.TELEGRAM, "4242")
GROUP = Address(Platform.TELEGRAM, "-100")


def photo(text: str = "", chat: Address = PERSON, edited: bool = False) -> IncomingMessage:
    """The message as a transport asks about it: its file not fetched yet."""
    return IncomingMessage(chat, PERSON, text, chat == PERSON, "9", edited=edited)


async def test_only_what_takes_files_now_says_yes(bot: Harness) -> None:
    ask = bot.router.takes_files
    assert not await ask(photo())  # a first message: nothing open
    assert await ask(photo("/update C-ABCDEF the photo"))  # /update takes files...
    assert not await ask(photo("/update C-ABCDEF", chat=GROUP))  # ...in a private chat only
    assert await ask(photo("/propose a photo", chat=GROUP))  # a member's proposal
    assert not await ask(photo("/status"))
    await bot.send(PERSON, "/report")  # the first question takes files
    assert await ask(photo())
    assert not await ask(photo(edited=True))  # an edit is never a second message
    await bot.send(PERSON, "Armed men came")
    await bot.press(PERSON, "Done")  # the second one takes words only
    assert not await ask(photo())


async def test_an_open_reply_to_ask_takes_files_until_its_window_closes(bot: Harness) -> None:
    account = await bot.db.accounts.get_or_create(str(PERSON), "en")
    until = bot.clock.now() + timedelta(minutes=30)
    await await_reply(bot.services, account.id, "C-ABCDEF", until)
    assert await bot.router.takes_files(photo())
    await bot.advance(timedelta(minutes=31))
    assert not await bot.router.takes_files(photo())


async def test_over_the_rate_limit_nothing_is_fetched_and_nothing_counted(bot: Harness) -> None:
    await bot.send(PERSON, "/report")
    bot.router.limiter.per_minute = 2
    assert await bot.router.takes_files(photo())
    assert await bot.router.takes_files(photo())  # asking counts no message
    await bot.send(PERSON, "Armed men came")  # the second message of the minute
    assert not await bot.router.takes_files(photo())
