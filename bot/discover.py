"""``sosbot discover``: a set-up mode that answers ``/id`` with the chat's and
the sender's ids, and prints them on the console, so the operator can fill
``[advisory] rooms`` and ``advisors``. It stores nothing.

Telegram: the bot's token polls updates. Matrix (bot/discover_matrix.py): a
temporary device logged in with the bot's password, deleted on exit; it
also joins invites and prints the room's id, which needs no decryption.

Telegram allows one poller per bot, so ``discover`` must not run beside
``sosbot run`` (the other would lose updates): it takes the same process
lock as ``run`` and refuses if a ``run`` holds it. Matrix would not mind,
but one rule for both is simpler to say.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from bot.config import Config, Secrets
from bot.transports.base import TransportStartError
from bot.transports.telegram_messenger import file_url_for
from bot.transports.telegram_request import telegram_start_problem

EXIT_OK, EXIT_ERROR = 0, 1


def id_text(chat_id: int, chat_type: str, sender_id: int | None) -> str:
    """The answer to /id, in the config's own address form."""
    lines = [f"This chat: telegram:{chat_id} ({chat_type})"]
    if sender_id is not None:
        lines.append(f"You: telegram:{sender_id}")
    return "\n".join(lines)


async def _on_id(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    sender = update.effective_user.id if update.effective_user else None
    text = id_text(chat.id, chat.type, sender)
    await message.reply_text(text)
    print(text.replace("\n", "; "), flush=True)  # the operator's console, never a log


async def discover(config: Config, secrets: Secrets) -> int:
    """Answer /id on every enabled platform until SIGINT/SIGTERM."""
    from bot.standby import AlreadyRunning, Role

    if not config.telegram.enabled and not config.matrix.enabled:
        print("discover: no platform is enabled ([telegram] or [matrix])", file=sys.stderr)
        return EXIT_ERROR
    role = Role(config)
    try:
        if not await role.try_take():
            print("discover: sosbot run is active on this database; stop it first", file=sys.stderr)
            return EXIT_ERROR
    except AlreadyRunning:
        print("discover: sosbot run is active on this data folder; stop it first", file=sys.stderr)
        return EXIT_ERROR
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with AsyncExitStack() as running:
            if config.telegram.enabled and secrets.telegram_token is not None:
                await running.enter_async_context(_telegram(config, secrets.telegram_token))
            if config.matrix.enabled and secrets.matrix_password is not None:
                await running.enter_async_context(_matrix(config, secrets.matrix_password, stop))
            await stop.wait()
    except TransportStartError as exc:
        print(f"discover: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await role.release()
    return EXIT_OK


def _console(line: str) -> None:
    print(line, flush=True)  # the operator's console, never a log


@asynccontextmanager
async def _telegram(config: Config, token: str) -> AsyncIterator[None]:
    builder = ApplicationBuilder().token(token)
    if config.telegram.base_url:
        base = config.telegram.base_url
        builder = builder.base_url(base).base_file_url(file_url_for(base))
    app = builder.build()
    app.add_handler(CommandHandler("id", _on_id))
    try:
        await app.initialize()
    except TelegramError as exc:
        raise TransportStartError(telegram_start_problem(exc, app.bot.base_url)) from None
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(allowed_updates=["message"])
    _console(
        f"discover: write /id (in a group: /id@{app.bot.username}) in each triage room "
        "and from each advisor; Ctrl-C to stop"
    )
    try:
        yield
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@asynccontextmanager
async def _matrix(config: Config, password: str, stop: asyncio.Event) -> AsyncIterator[None]:
    from bot.discover_matrix import MatrixDiscover, serve  # nio only when Matrix is on

    device = MatrixDiscover(config.matrix.homeserver, config.matrix.user_id, password, out=_console)
    try:
        await device.start()
        _console(
            f"discover: on Matrix, invite {config.matrix.user_id} to each triage room "
            "(the room's id is printed when it joins) and write !id there; Ctrl-C to stop"
        )
        task = asyncio.create_task(serve(device, stop), name="discover-matrix")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await device.close()


__all__ = ["discover", "id_text"]
