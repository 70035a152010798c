"""``sosbot discover``: a set-up mode that answers ``/id`` with the chat's and
the sender's ids, and prints them on the console, so the operator can fill
``[advisory] rooms`` and ``advisors``. It stores nothing.

Telegram only: Telegram shows no ids in its apps, while Element shows every
Matrix id (a room's settings, Advanced: "Internal room ID"; a person's
``@name:server`` on their profile), and a Matrix set-up mode would have to log
in a new E2EE device just to read an encrypted ``/id`` (docs/deployment.md).

It polls the bot's updates, so it must not run beside ``sosbot run``
(Telegram allows one poller per bot; the other would lose updates): it takes
the same process lock as ``run`` and refuses if a ``run`` holds it.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from bot.config import Config, Secrets
from bot.transports.telegram import file_url_for
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
    """Answer /id until SIGINT/SIGTERM."""
    from bot.standby import AlreadyRunning, Role

    if not config.telegram.enabled or secrets.telegram_token is None:
        print(
            "discover: Telegram is not enabled; Matrix ids are shown by Element "
            "(see docs/deployment.md)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    role = Role(config)
    try:
        if not await role.try_take():
            print("discover: sosbot run is active on this database; stop it first", file=sys.stderr)
            return EXIT_ERROR
    except AlreadyRunning:
        print("discover: sosbot run is active on this data folder; stop it first", file=sys.stderr)
        return EXIT_ERROR
    try:
        return await _serve(config, secrets.telegram_token)
    finally:
        await role.release()


async def _serve(config: Config, token: str) -> int:
    builder = ApplicationBuilder().token(token)
    if config.telegram.base_url:
        base = config.telegram.base_url
        builder = builder.base_url(base).base_file_url(file_url_for(base))
    app = builder.build()
    app.add_handler(CommandHandler("id", _on_id))
    try:
        await app.initialize()
    except TelegramError as exc:
        print(f"discover: {telegram_start_problem(exc, app.bot.base_url)}", file=sys.stderr)
        return EXIT_ERROR
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(allowed_updates=["message"])
    print(
        f"discover: write /id (in a group: /id@{app.bot.username}) in each triage room "
        "and from each advisor; Ctrl-C to stop",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    return EXIT_OK


__all__ = ["discover", "id_text"]
