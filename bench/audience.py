"""Audience benchmark: an appeal's audience with subscriptions, its sending
and its outcome news, over a large registry.

    .venv/bin/python -m bench.audience [--members 10000] [--subscribed 2000] [--url URL]

Every member organisation has one Telegram group (regions in rotation);
``--subscribed`` groups outside the Americas subscribe to ``region=Americas``.
Through the real router, handlers and encrypted storage (in-memory
messengers stand in for the platforms), prints how long ``/appeal target``
takes to count the audience (registry and subscriptions), ``/appeal send``
to queue it (and record its recipients), and ``/appeal outcome … send`` to
queue the outcome to the recorded recipients. SQLite in a temporary folder
unless ``--url`` names a PostgreSQL database. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.registry import bot_with_registry, member
from handlers.refs import parse_ref
from tests.harness.bot import ALICE, BOB, TRIAGE, Harness


async def say(bot: Harness, text: str, who: object = ALICE) -> str:
    chat = TRIAGE if who == ALICE else who
    replies = await bot.send(who, text, chat=chat)  # type: ignore[arg-type]
    return replies[-1].text


async def timed(bot: Harness, text: str, who: object = ALICE) -> tuple[str, float]:
    started = time.perf_counter()
    answer = await say(bot, text, who)
    return answer, time.perf_counter() - started


async def run(members: int, subscribed: int, url: str | None) -> None:
    entries = [member(n, groups=(f"telegram:-100{n:07d}",)) for n in range(members)]
    async with bot_with_registry(entries, url) as bot:
        outside = [e for n, e in enumerate(entries) if n % 4][:subscribed]
        started = time.perf_counter()
        for entry in outside:
            await bot.db.subscriptions.subscribe(
                entry.groups[0], "telegram:1", [("region", "Americas")]
            )
        print(f"subscriptions: {len(outside)} in {time.perf_counter() - started:.1f} s")
        drafted = await say(bot, "/appeal new")
        ref = next(parse_ref(w.strip(".,")) for w in drafted.split() if w.startswith("A-"))
        await say(bot, f"/appeal text {ref} en Protect the land defenders of Cauca.")
        await say(bot, f"/appeal deadline {ref} 2026-01-20")
        answer, took = await timed(bot, f"/appeal target {ref} region=Americas")
        print(f"/appeal target: {took * 1000:.0f} ms — {answer.replace(chr(10), ' ')}")
        await say(bot, f"/appeal approve {ref}")
        await say(bot, f"/appeal approve {ref}", BOB)
        answer, took = await timed(bot, f"/appeal send {ref}")
        print(f"/appeal send: {took:.2f} s — {answer}")
        await say(bot, f"/appeal outcome {ref} en The defenders are safe.")
        answer, took = await timed(bot, f"/appeal outcome {ref} send")
        print(f"/appeal outcome send: {took:.2f} s — {answer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--subscribed", type=int, default=2_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.members, args.subscribed, args.url))


if __name__ == "__main__":
    main()
