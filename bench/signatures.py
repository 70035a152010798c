"""Signature benchmark: 10,000 members signing one appeal within a minute.

    .venv/bin/python -m bench.signatures [--members 10000] [--url URL]

Each member organisation has one contact who sends ``/sign A-…`` in a
private chat; the messages go through the real router, handlers and
encrypted storage (in-memory messengers stand in for the platforms). Prints
signatures recorded per second and the time from the first signature to
the moment ``/appeal status`` shows the full tally. SQLite in a temporary
folder unless ``--url`` names a PostgreSQL database.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.registry import bot_with_registry, member
from handlers.messages import Address, IncomingMessage, Platform
from tests.harness.bot import ALICE, TRIAGE, drain_outbox
from tests.harness.messenger import MemoryMessenger

CONCURRENCY = 50  # messages handled at once, as transports do for different chats


async def run(members: int, url: str | None) -> None:
    entries = [member(n, contacts=(f"telegram:{10_000_000 + n}",)) for n in range(members)]
    async with bot_with_registry(entries, url) as bot:
        ref = await open_appeal(bot)
        messenger = MemoryMessenger(Platform.TELEGRAM)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(members):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                person = Address(Platform.TELEGRAM, str(10_000_000 + n))
                await bot.router.deliver(
                    IncomingMessage(
                        chat=person, sender=person, text=f"/sign {ref}", message_id=str(n)
                    ),
                    messenger,
                )

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        recorded = time.perf_counter() - started
        # The tally as an advisor asks for it, right after the last signature
        # (delivered without sending the 10,000 queued confirmations first).
        status = IncomingMessage(
            chat=TRIAGE, sender=ALICE, text=f"/appeal status {ref}", message_id="status"
        )
        await bot.router.deliver(status, bot.matrix)
        settled = time.perf_counter() - started
        await drain_outbox(bot)  # the confirmations, queued with each signature
        tally = [o.text for o in bot.matrix.to(TRIAGE) if o.text.startswith(f"{ref}: ")]
        exact = bool(tally) and tally[-1].startswith(f"{ref}: {members} signatures.")
        signers = {f"telegram:{10_000_000 + n}" for n in range(members)}
        confirmed = Counter(
            str(o.chat)
            for o in bot.telegram.sent
            if str(o.chat) in signers and f" signed {ref}." in o.text
        )
        once = sum(1 for n in confirmed.values() if n == 1)
        print(
            f"signatures: {members} in {recorded:.1f} s = {members / recorded:.0f}/s; "
            f"signers confirmed exactly once: {once} of {members} "
            f"(more than once: {sum(1 for n in confirmed.values() if n > 1)})"
        )
        print(
            f"tally right after: {settled:.1f} s from the first signature, "
            f"{'exact' if exact else 'NOT EXACT'}; batches: {bot.router.signing.batches}"
        )


async def open_appeal(bot: object) -> str:
    from tests.harness.bot import BOB, Harness

    assert isinstance(bot, Harness)
    answer = (await bot.send(ALICE, "/appeal new", chat=TRIAGE))[-1].text
    ref = next(w.strip(".,") for w in answer.split() if w.startswith("A-"))
    deadline = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    for command in (
        f"/appeal text {ref} en Free them.",
        f"/appeal deadline {ref} {deadline}",
        f"/appeal approve {ref}",
    ):
        await bot.send(ALICE, command, chat=TRIAGE)
    await bot.send(BOB, f"/appeal approve {ref}")
    await bot.send(ALICE, f"/appeal send {ref}", chat=TRIAGE)
    return ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--url", help="a postgresql+asyncpg:// database (default: SQLite)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throw-away PostgreSQL server with fsync on (as in production) and use it",
    )
    args = parser.parse_args()
    if not args.postgres:
        asyncio.run(run(args.members, args.url))
        return
    from tests.servers.postgres import PostgresServer

    with PostgresServer(durable=True) as server:
        print("PostgreSQL: fsync, synchronous_commit and full_page_writes on")
        asyncio.run(run(args.members, server.create_database()))


if __name__ == "__main__":
    main()
