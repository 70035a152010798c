"""The ceiling of bench/intake.py: sosbot's Bot API requests, made by a bot that does
nothing else.

``record`` takes one defender through the real sosbot and keeps, for each of
their updates, the requests that answered it (texts, buttons, the case card
to the triage group). ``run_replay`` then serves the same defenders with a
bare python-telegram-bot application that makes exactly those requests for
each update (an ``answerCallbackQuery`` for every button press, every
``sendMessage`` with its text and keyboard, the card to the group, one chat's
messages in order as sosbot keeps them) and does nothing else: no storage,
no encryption, no outbox, no turn. Its figures are the most any bot could
reach on this bench while telling the defenders what sosbot tells them, in
order, through python-telegram-bot, in one process with the fake server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler
from telegram.ext import filters as tg_filters

from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser

Defender = Callable[[FakeTelegramServer, FakeUser, Any], Awaitable[float]]
REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")


@dataclass(frozen=True)
class Call:
    """One ``sendMessage`` sosbot made in answer to an update."""

    to_triage: bool
    text: str
    markup: InlineKeyboardMarkup | None


async def record(
    token: str,
    start: Callable[[FakeTelegramServer, Path, FakeChat], Awaitable[Any]],
    defender: Defender,
    watch: Callable[[FakeTelegramServer, FakeChat], Any],
) -> tuple[list[list[Call]], str]:
    """One defender through sosbot: the messages answering each of their updates
    (in the order sent), and the case reference they carry."""
    async with FakeTelegramServer() as server:
        server.add_bot(token)
        triage = server.new_group("Advisory group")
        with tempfile.TemporaryDirectory() as folder:
            app = await start(server, Path(folder), triage)
            try:
                marks: list[int] = []
                for name in ("user_sends", "press_button"):
                    _mark_calls(server, name, marks)
                user = server.new_user("Defender")
                cards = watch(server, triage)
                watcher = asyncio.create_task(cards.run())
                await defender(server, user, cards)
                await server.wait_for_message(
                    user.id, lambda m: "has been alerted" in (m.text or ""), timeout=60
                )
                watcher.cancel()
            finally:
                await app.stop()
        ends = [*marks[1:], len(server.requests)]
        script = [
            [
                Call(
                    int(r.params["chat_id"]) == triage.id,
                    str(r.params["text"]),
                    _markup(r.params.get("reply_markup")),
                )
                for r in server.requests[start_at:end]
                if r.method == "sendMessage"
            ]
            for start_at, end in zip(marks, ends, strict=True)
        ]
        refs = {ref for calls in script for c in calls for ref in REF.findall(c.text)}
    assert len(refs) == 1, refs
    return script, refs.pop()


def _mark_calls(server: FakeTelegramServer, name: str, marks: list[int]) -> None:
    original = getattr(server, name)

    def marked(*args: Any, **kwargs: Any) -> Any:
        marks.append(len(server.requests))
        return original(*args, **kwargs)

    setattr(server, name, marked)


def _markup(data: Any) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup.de_json(data, None) if isinstance(data, dict) else None


@contextlib.asynccontextmanager
async def bare_bot(
    token: str,
    server: FakeTelegramServer,
    answer: Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]],
) -> AsyncIterator[None]:
    """A bare python-telegram-bot application answering every update with ``answer``,
    long-polling ``server`` (the echo bot and the replaying bot)."""
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(tg_filters.ALL, answer))
    app.add_handler(CallbackQueryHandler(answer))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await server.wait_until_polling()
        yield
        await app.updater.stop()
        await app.stop()


async def run_replay(
    token: str,
    count: int,
    script: list[list[Call]],
    ref: str,
    defender: Defender,
    watch: Callable[[FakeTelegramServer, FakeChat], Any],
    counted: Any,
) -> tuple[list[float], float, int]:
    """``count`` defenders served by the replaying bot: latencies, seconds, updates."""
    async with FakeTelegramServer() as server:
        server.add_bot(token)
        triage = server.new_group("Advisory group")
        steps: dict[int, int] = {}
        # One chat's messages one after another, in order, as sosbot sends them: the
        # cards of all defenders to the one triage group wait for each other.
        triage_order = asyncio.Lock()

        async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_user is not None
            user_id = update.effective_user.id
            step = steps.get(user_id, 0)
            steps[user_id] = step + 1
            if update.callback_query:
                await update.callback_query.answer()
            own_ref = f"C-{user_id % 10**6:06d}"

            async def in_order(calls: list[Call]) -> None:  # a chat's messages in order
                for call in calls:
                    chat_id = triage.id if call.to_triage else user_id
                    text = call.text.replace(ref, own_ref)
                    await context.bot.send_message(chat_id, text, reply_markup=call.markup)

            async def to_triage(calls: list[Call]) -> None:
                async with triage_order:
                    await in_order(calls)

            calls = script[step]
            await asyncio.gather(
                in_order([c for c in calls if not c.to_triage]),
                to_triage([c for c in calls if c.to_triage]),
            )

        async with bare_bot(token, server, answer):
            return await drive(server, triage, count, defender, watch, counted)


async def drive(
    server: FakeTelegramServer,
    triage: FakeChat,
    count: int,
    defender: Defender,
    watch: Callable[[FakeTelegramServer, FakeChat], Any],
    counted: Any,
) -> tuple[list[float], float, int]:
    """``count`` defenders report at once to the bot serving ``server``: each one's
    seconds from confirm to card, the seconds it all took, the updates handled
    (``counted`` is started and stopped around it)."""
    users = [server.new_user(f"Defender {n}") for n in range(count)]
    cards = watch(server, triage)
    watcher = asyncio.create_task(cards.run())
    started = time.perf_counter()
    counted.__init__()
    latencies = await asyncio.gather(*(defender(server, u, cards) for u in users))
    elapsed = time.perf_counter() - started
    counted.stop()
    watcher.cancel()
    updates = len(server.requests_for("answerCallbackQuery")) + sum(
        1 for u in users for m in server.history(u.id) if not m.from_bot
    )
    return list(latencies), elapsed, updates
