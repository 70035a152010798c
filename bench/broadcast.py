"""Broadcast throughput: the dispatcher against Telegram's limits, and flat out.

Run by hand, never in tests (the full run takes about seven minutes):

    .venv/bin/python bench/broadcast.py                     # everything
    .venv/bin/python bench/broadcast.py --groups 1000 --skip matrix
    .venv/bin/python bench/broadcast.py --only raw --raw 20000

Parts:

- ``limited``: ``--groups`` Telegram groups (default 10,000) through the fake
  Bot API with its flood control on. The figure is messages per second from
  the first to the last appeal the server accepted, against the 30/s ceiling,
  and the number of 429 answers (the goal: at least 97 %, no 429). The fake's
  flood control is strict sliding windows (30 in any second, 20 in any minute
  per group, 3 in any 3 seconds per chat).
- ``raw``: ``--raw`` private chats with the fake server's flood control off
  and the dispatcher's gate open: the engine's own rate through
  python-telegram-bot, HTTP and SQLite (the fake server runs in a process of
  its own, so that it does not share the bot's CPU). Goal: over 1,000/s.
- ``library``: the same ``--raw`` sends with python-telegram-bot alone (16 at
  a time, no dispatcher, no database): the ceiling ``raw`` can reach.
- ``engine``: ``--engine`` messages to a messenger that returns at once: the
  dispatcher and its database alone.
- ``matrix``: ``--rooms`` encrypted rooms (default 200) on a local Synapse
  (tests/servers/synapse.py) with the bot exempt from rate limits: the time
  until every room has the message (``--matrix-rate``: the dispatcher's
  Matrix gate, 20/s in the bot). With ``--matrix-default-limit``, a second
  appeal to the same rooms after the exemption is removed: Synapse's
  default ``rc_message`` (0.2/s, burst 10) for the bot too.

The real bot's code runs throughout (App, TelegramTransport, Dispatcher,
SQLite with synchronous=FULL). Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.broadcast.limits import OpenGate
from handlers.broadcast import queue_broadcast
from handlers.messages import Platform
from storage.repos.outbox import Delivery
from tests.broadcast.conftest import TOKEN
from tests.broadcast.conftest import build_bot as build_test_bot
from tests.fakes.telegram.server import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[1]
TEXT = "URGENT ACTION: sign the letter for the radio presenters of Cauca. " * 4


async def build_bot(base_url: str, folder: Path, triage_id: int, **options: Any) -> Any:
    """The App as the broadcast tests build it, with the production progress interval."""
    app = await build_test_bot(base_url, folder, triage_id, **options)
    app.dispatcher.progress_interval = 5.0
    return app


def rate(times: Sequence[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


async def wait_for(check: Any, timeout: float, step: float = 0.2) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the broadcast did not finish in time")
        await asyncio.sleep(step)


# ----------------------------------------------------------------- Telegram
async def limited(groups: int) -> dict[str, str]:
    async with FakeTelegramServer(rate_limits=True) as server:
        server.add_bot(TOKEN)
        triage = server.new_group("Advisory group")
        chats = [server.new_group(f"Member group {n}") for n in range(groups)]
        with tempfile.TemporaryDirectory() as folder:
            app = await build_bot(server.base_url, Path(folder), triage.id)
            await app.start()
            round_trips = _record_round_trips(app)
            try:
                deliveries = [Delivery(f"telegram:{c.id}", "en", TEXT) for c in chats]
                queued = time.monotonic()
                await queue_broadcast(app.services, "appeal", "A-BENCH1", deliveries)
                print(f"  queued {groups} in {time.monotonic() - queued:.2f} s", flush=True)

                def appeals() -> list[float]:
                    return [
                        r.at
                        for r in server.requests_for("sendMessage")
                        if r.ok and str(r.params.get("text", "")).startswith("URGENT")
                    ]

                async def progress() -> None:
                    while True:
                        await asyncio.sleep(30)
                        print(f"  … {len(appeals())} sent", flush=True)

                ticker = asyncio.create_task(progress())
                try:
                    await wait_for(lambda: len(appeals()) >= groups, groups / 10 + 60)
                finally:
                    ticker.cancel()
                times = sorted(appeals())
                per_chat = max(len(server.messages_to(c.id)) for c in chats)
            finally:
                await app.stop()
        achieved = rate(times)
        round_trips.sort()
        median = round_trips[len(round_trips) // 2]
        return {
            "messages": str(len(times)),
            "round trip, median / p90": (
                f"{median * 1000:.0f} / {round_trips[len(round_trips) * 9 // 10] * 1000:.0f} ms"
            ),
            "windows' ceiling, 30 / (1 s + median round trip)": f"{30 / (1 + median):.2f}/s",
            "duration": f"{times[-1] - times[0]:.1f} s",
            "achieved": f"{achieved:.2f}/s",
            "of ceiling (30/s)": f"{achieved / 30 * 100:.1f} %",
            "429 answers": str(server.count_429),
            "most messages in one chat": str(per_chat),
        }


def _record_round_trips(app: Any) -> list[float]:
    """Seconds from a request leaving to its answer, as the flood windows count them."""
    gate = app.dispatcher.lane(Platform.TELEGRAM).gate
    answered, found = gate.answered, []

    def record(flight: Any) -> None:
        answered(flight)
        found.append(flight.answered - flight.left)

    gate.answered = record
    return found


SERVER_SCRIPT = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.fakes.telegram.server import FakeTelegramServer

async def main():
    server = FakeTelegramServer(rate_limits=False)
    server.add_bot({token!r})
    for n in range({chats}):
        server.add_chat(server.new_user(f"Member {{n}}"))
    await server.start()
    print(server.base_url, " ".join(str(c) for c in server.chats), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def server_process(chats: int) -> AsyncIterator[tuple[str, list[int]]]:
    """The fake Bot API in a process of its own (flood control off)."""
    script = SERVER_SCRIPT.format(root=str(ROOT), token=TOKEN, chats=chats)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, limit=2**24
    )
    try:
        assert process.stdout is not None
        base_url, *ids = (await process.stdout.readline()).decode().split()
        yield base_url, [int(i) for i in ids if int(i) > 0]
    finally:
        process.kill()
        await process.wait()


async def raw(count: int) -> dict[str, str]:
    async with server_process(count) as (base_url, chat_ids):
        with tempfile.TemporaryDirectory() as folder:
            # 16 requests in flight: more only slows httpx's connection pool down.
            app = await build_bot(
                base_url, Path(folder), -1, tune={"concurrency": 16, "batch": 2000}
            )
            app.dispatcher.lane(Platform.TELEGRAM).gate = OpenGate()
            await app.start()
            try:
                deliveries = [Delivery(f"telegram:{c}", "en", TEXT) for c in chat_ids[:count]]
                await queue_broadcast(app.services, "appeal", "A-BENCH2", deliveries, [])
                start = time.monotonic()
                lane = app.dispatcher.lane(Platform.TELEGRAM)
                await wait_for(lambda: lane.sent >= count, 600, 0.01)
                elapsed = time.monotonic() - start
            finally:
                await app.stop()
    return {
        "messages": str(count),
        "duration": f"{elapsed:.1f} s",
        "rate": f"{count / elapsed:.0f}/s",
    }


async def library(count: int) -> dict[str, str]:
    """python-telegram-bot alone, no dispatcher, no database: the ceiling for ``raw``."""
    from telegram import Bot

    async with server_process(count) as (base_url, chat_ids):
        bot = Bot(TOKEN, base_url=base_url)
        async with bot:
            todo = iter(chat_ids[:count])

            async def worker() -> None:
                for chat_id in todo:
                    await bot.send_message(chat_id, TEXT)

            start = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(16)))
            elapsed = time.monotonic() - start
    return {
        "messages": str(count),
        "duration": f"{elapsed:.1f} s",
        "rate": f"{count / elapsed:.0f}/s",
    }


class InstantMessenger:
    """Sends nothing, at once: what is left is the dispatcher and its database."""

    def __init__(self) -> None:
        self.count = 0

    async def send_text(self, chat: Any, text: str, **_: Any) -> Any:
        from handlers.messages import Sent

        self.count += 1
        return Sent(chat, str(self.count))


async def engine(count: int) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        app = await build_bot(
            "http://127.0.0.1:9/bot", Path(folder), -1, tune={"concurrency": 64, "batch": 2000}
        )
        messenger = InstantMessenger()
        app.services.hub.register(Platform.TELEGRAM, messenger)  # type: ignore[arg-type]
        app.dispatcher.lane(Platform.TELEGRAM).gate = OpenGate()
        await app.services.db.outbox.release_claims()
        await app.dispatcher.start()  # the transport itself is not started
        try:
            deliveries = [Delivery(f"telegram:{n + 1}", "en", TEXT) for n in range(count)]
            await queue_broadcast(app.services, "appeal", "A-BENCH3", deliveries, [])
            start = time.monotonic()
            await wait_for(lambda: messenger.count >= count, 600, 0.01)
            elapsed = time.monotonic() - start
        finally:
            await app.dispatcher.stop()
            await app.services.db.close()
    return {
        "messages": str(count),
        "duration": f"{elapsed:.1f} s",
        "rate": f"{count / elapsed:.0f}/s",
    }


# ------------------------------------------------------------------- Matrix
async def matrix(rooms: int, rate: float, also_limited: bool = False) -> dict[str, str]:
    from bench.broadcast_matrix import deliver_to_rooms

    return await deliver_to_rooms(rooms, rate, also_limited=also_limited)


PARTS = ("limited", "raw", "library", "engine", "matrix")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--raw", type=int, default=10_000)
    parser.add_argument("--engine", type=int, default=20_000)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument(
        "--matrix-rate",
        type=float,
        default=20.0,
        help="the Matrix gate's rate (default: the bot's)",
    )
    parser.add_argument(
        "--matrix-default-limit",
        action="store_true",
        help="then a second appeal with the bot's exemption removed (Synapse's rc_message)",
    )
    parser.add_argument("--only", choices=PARTS, action="append")
    parser.add_argument("--skip", choices=PARTS, action="append", default=[])
    args = parser.parse_args()
    chosen = [p for p in (args.only or PARTS) if p not in args.skip]
    results: dict[str, dict[str, str]] = {}
    for part in chosen:
        print(f"{part}…", flush=True)
        if part == "limited":
            results[f"Telegram, {args.groups} groups, flood control on"] = await limited(
                args.groups
            )
        elif part == "raw":
            results[f"Telegram, {args.raw} chats, flood control off"] = await raw(args.raw)
        elif part == "library":
            results[f"python-telegram-bot alone, {args.raw} chats"] = await library(args.raw)
        elif part == "engine":
            results[f"Engine only, {args.engine} messages"] = await engine(args.engine)
        else:
            title = f"Matrix, {args.rooms} encrypted rooms, gate at {args.matrix_rate:g}/s"
            results[title] = await matrix(args.rooms, args.matrix_rate, args.matrix_default_limit)
    for title, figures in results.items():
        print(f"\n{title}")
        for name, value in figures.items():
            print(f"  {name:28} {value}")
    print("\n" + json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
