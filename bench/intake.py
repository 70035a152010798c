"""Intake benchmark: 100 defenders reporting at once through the fake Bot API.

    .venv/bin/python -m bench.intake [--defenders 100] [--runs 5]
    .venv/bin/python -m bench.intake --turns 2000

``--runs N`` repeats the whole comparison and prints the median of each figure
(the machine's noise moves single runs by a fifth or more).

Prints the time from each defender's confirm to their case card in the
triage group (median, p99), the updates per second the whole bot handled,
and the same updates' throughput through a bare python-telegram-bot echo
bot on the same fake server, as a ratio; and for each run the CPU time of
the process per update (the fake server and the simulated people included,
for both) and sosbot's SQL statements per update; and the ceiling: the same
defenders served by a bare python-telegram-bot application that makes exactly
sosbot's requests and nothing else (bench/replay.py). Not part of the test suite.

``--turns N``: N intake turns as the intake property sends them (the
in-memory bot of tests/hardening/property_bots.py: each of the six report
steps and the summary, in three languages, with typed answers and button
presses), without hypothesis: the CPU time of putting the database back,
of the turn (with reading its answers from the outbox) and of the dump that
checks a refusal, and the SQL statements per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from telegram import Update
from telegram.ext import (
    ContextTypes,
)

from bench import replay as replay_module
from bot.app import App
from bot.config import load_secrets, parse_config
from bot.transports.telegram import TelegramTransport
from handlers.clock import FakeClock
from handlers.services import Services
from tests.fakes.telegram.server import FakeChat, FakeTelegramServer, FakeUser

TOKEN = "123456:BENCH-token-for-the-fake-server-only"
REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")
STEPS = 10  # updates per defender, from /report to the confirm


async def start_sosbot(server: FakeTelegramServer, folder: Path, triage: FakeChat) -> App:
    config = parse_config(
        f"""
[telegram]
enabled = true
base_url = "{server.base_url}"
# The bot's own cost is measured: Telegram's flood windows (30 a second, 20 a
# minute per group) would spread 100 cards to one triage group over 5 minutes
# whatever the bot does. The fake server enforces none here, like the echo bot.
messages_per_second = 100000
group_messages_per_minute = 6000000
private_messages_per_second = 100000
[advisory]
rooms = ["telegram:{triage.id}"]
allow_content_in_unencrypted_rooms = true
[limits]
messages_per_minute = 1000
""",
        folder,
    )
    config.bot.data_dir.mkdir(exist_ok=True)
    key = base64.b64encode(b"b" * 32).decode()
    secrets = load_secrets(config, {"SOSBOT_MASTER_KEY": key, "SOSBOT_TELEGRAM_TOKEN": TOKEN})

    def transports(services: Services) -> list[TelegramTransport]:
        return [TelegramTransport(TOKEN, services, server.base_url, poll_timeout=1)]

    app = await App.build(config, secrets, FakeClock(), transports=transports)  # type: ignore[arg-type]
    await app.start()
    await server.wait_until_polling()
    return app


class CardWatch:
    """When each case card reached the triage group (one watcher for all defenders:
    a hundred defenders each scanning the group's hundred cards would measure the
    bench, not the bot)."""

    def __init__(self, server: FakeTelegramServer, triage: FakeChat) -> None:
        self.server, self.triage = server, triage
        self.arrived: dict[str, float] = {}
        self._events: dict[str, asyncio.Event] = {}

    async def run(self) -> None:
        seen = 0
        while True:
            message = await self.server.wait_for_message(self.triage.id, after=seen, timeout=600)
            seen = message.message_id
            for ref in set(REF.findall(message.text or "")):
                self.arrived.setdefault(ref, time.perf_counter())
                self._event(ref).set()

    def _event(self, ref: str) -> asyncio.Event:
        return self._events.setdefault(ref, asyncio.Event())

    async def card(self, ref: str) -> float:
        await asyncio.wait_for(self._event(ref).wait(), 120)
        return self.arrived[ref]


async def defender(server: FakeTelegramServer, user: FakeUser, cards: CardWatch) -> float:
    """One defender's whole report; the seconds from confirm to their card."""
    pressed = 0

    async def last_bot_id() -> int:
        return max((m.message_id for m in server.history(user.id)), default=0)

    async def say(text: str, expect: str) -> None:
        after = await last_bot_id()
        server.user_sends(user, user, text)
        await server.wait_for_message(
            user.id, lambda m: expect in (m.text or ""), after=after, timeout=120
        )

    async def press(label: str, expect: str) -> None:
        nonlocal pressed
        question = await server.wait_for_message(
            user.id, lambda m: label in m.button_texts and m.message_id > pressed, timeout=120
        )
        pressed = question.message_id
        after = await last_bot_id()
        server.press_button(user, user, question.message_id, text=label)
        await server.wait_for_message(
            user.id, lambda m: expect in (m.text or ""), after=after, timeout=120
        )

    await say("/report", "What is happening")
    await say("Armed men came to the office of the collective.", "Noted")
    await press("Done", "Where")
    await say("Cauca, Colombia", "Who")
    await say("The collective's spokesperson", "How urgent")
    await press("Within days", "What may the network")
    await press("Advisory group only", "safe way")
    await press("Skip", "Please check")
    question = await server.wait_for_message(
        user.id, lambda m: "Send the report" in m.button_texts, timeout=120
    )
    after = await last_bot_id()
    confirmed = time.perf_counter()
    server.press_button(user, user, question.message_id, text="Send the report")
    receipt = await server.wait_for_message(
        user.id, lambda m: "case reference" in (m.text or ""), after=after, timeout=120
    )
    match = REF.search(receipt.text or "")
    assert match
    return await cards.card(match.group(0)) - confirmed


class Run:
    """CPU time and SQL statements over one run."""

    def __init__(self) -> None:
        self.statements = 0
        self._cpu = time.process_time()
        self.cpu = 0.0

    def count(self, *_: Any) -> None:
        self.statements += 1

    def stop(self) -> None:
        self.cpu = time.process_time() - self._cpu


async def run_sosbot(count: int, run: Run) -> tuple[list[float], float, int]:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        triage = server.new_group("Advisory group")
        with tempfile.TemporaryDirectory() as folder:
            app = await start_sosbot(server, Path(folder), triage)
            engine = app.services.db._engine.sync_engine
            event.listen(engine, "before_cursor_execute", run.count)
            try:
                return await replay_module.drive(server, triage, count, defender, CardWatch, run)
            finally:
                await app.stop()


async def run_echo(count: int, per_user: int, run: Run) -> float:
    """The same number of updates through a bare PTB echo bot: updates per second."""
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)

        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.callback_query:
                await update.callback_query.answer()
            if update.effective_chat:
                await context.bot.send_message(update.effective_chat.id, "echo")

        async with replay_module.bare_bot(TOKEN, server, echo):
            users = [server.new_user(f"User {n}") for n in range(count)]
            started = time.perf_counter()
            run.__init__()

            async def one(user: FakeUser) -> None:
                for n in range(per_user):
                    server.user_sends(user, user, f"message {n}")
                    await server.wait_for_message(
                        user.id, lambda m, n=n: m.message_id >= 2 * (n + 1), timeout=120
                    )

            await asyncio.gather(*(one(u) for u in users))
            elapsed = time.perf_counter() - started
            run.stop()
    return count * per_user / elapsed


def run_turns(count: int) -> None:
    """The intake property's examples, timed (see the module's docstring)."""
    import random

    from handlers.conversation.record import State
    from tests.hardening.property_bots import LANGUAGES, STEPS, property_bot

    draw = random.Random(1)
    texts = ["1", "٢", "³", "done", "skip", "/cancel", "/sos", "hello there", "Pérez ②", ""]
    choices = [None, None, "urgency:soon", "x:a", "summary:send", "what:done", "where:skip"]
    with property_bot() as bot:
        run = Run()
        event.listen(bot.harness.db._engine.sync_engine, "before_cursor_execute", run.count)
        cpu = {"reset": 0.0, "turn": 0.0, "dump": 0.0}
        statements = 0
        for _ in range(count):
            step = draw.choice((*STEPS, State.SUMMARY))
            person = bot.person(draw.choice(LANGUAGES), step)
            text, choice = draw.choice(texts), draw.choice(choices)
            start = time.process_time()
            bot.reset()
            reset = time.process_time()
            before = run.statements
            bot.loop.run_until_complete(bot._turn(person, "" if choice else text, choice))
            statements += run.statements - before
            turned = time.process_time()
            bot.dump()
            done = time.process_time()
            cpu["reset"] += reset - start
            cpu["turn"] += turned - reset
            cpu["dump"] += done - turned
    parts = ", ".join(f"{name} {total / count * 1000:.2f} ms" for name, total in cpu.items())
    total = sum(cpu.values()) / count * 1000
    print(f"turns: {count}; CPU per example: {parts}; total {total:.2f} ms")
    print(f"SQL statements per turn (its answers' read included): {statements / count:.1f}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def one_run(defenders: int) -> dict[str, float]:
    """sosbot, then the echo bot, then the replaying bot (the ceiling): the figures."""
    sosbot, echo, replay = Run(), Run(), Run()
    latencies, elapsed, updates = asyncio.run(run_sosbot(defenders, sosbot))
    per_user = max(1, updates // defenders)
    echo_rate = asyncio.run(run_echo(defenders, per_user, echo))
    script, ref = asyncio.run(replay_module.record(TOKEN, start_sosbot, defender, CardWatch))
    replayed, replay_elapsed, replay_updates = asyncio.run(
        replay_module.run_replay(TOKEN, defenders, script, ref, defender, CardWatch, replay)
    )
    return {
        "updates": updates,
        "seconds": elapsed,
        "median": statistics.median(latencies) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "max": max(latencies) * 1000,
        "sosbot": updates / elapsed,
        "echo": echo_rate,
        "ratio": updates / elapsed / echo_rate,
        "cpu": sosbot.cpu / updates * 1000,
        "echo cpu": echo.cpu / (defenders * per_user) * 1000,
        "statements": sosbot.statements / updates,
        "ceiling": replay_updates / replay_elapsed,
        "ceiling ratio": replay_updates / replay_elapsed / echo_rate,
        "ceiling median": statistics.median(replayed) * 1000,
        "ceiling p99": percentile(replayed, 0.99) * 1000,
        "ceiling cpu": replay.cpu / replay_updates * 1000,
    }


def report(defenders: int, f: dict[str, float], label: str) -> None:
    print(
        f"{label}defenders: {defenders}, updates handled: {f['updates']:.0f} "
        f"in {f['seconds']:.1f} s"
    )
    print(
        f"confirm → case card: median {f['median']:.0f} ms, p99 {f['p99']:.0f} ms, "
        f"max {f['max']:.0f} ms"
    )
    print(
        f"sosbot: {f['sosbot']:.0f} updates/s; bare PTB echo bot: {f['echo']:.0f} updates/s; "
        f"ratio {f['ratio']:.2f}"
    )
    print(
        f"CPU per update (whole process): sosbot {f['cpu']:.1f} ms, "
        f"echo bot {f['echo cpu']:.1f} ms; sosbot SQL statements per update: "
        f"{f['statements']:.1f}"
    )
    print(
        f"ceiling (sosbot's requests from a bot that does nothing else): "
        f"{f['ceiling']:.0f} updates/s, ratio {f['ceiling ratio']:.2f}; "
        f"confirm → card median {f['ceiling median']:.0f} ms, p99 {f['ceiling p99']:.0f} ms; "
        f"CPU per update {f['ceiling cpu']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--defenders", type=int, default=100)
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat the comparison; print each and the medians"
    )
    parser.add_argument("--turns", type=int, default=0, help="time N property turns instead")
    args = parser.parse_args()
    if args.turns:
        run_turns(args.turns)
        return
    runs = []
    for n in range(args.runs):
        runs.append(one_run(args.defenders))
        report(args.defenders, runs[-1], f"run {n + 1}: " if args.runs > 1 else "")
    if args.runs > 1:
        medians = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        report(args.defenders, medians, f"median of {args.runs} runs, each figure: ")


if __name__ == "__main__":
    main()
