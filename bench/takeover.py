"""Standby takeover time: two `sosbot run` processes on one PostgreSQL.

Run by hand, never in tests (about a minute):

    .venv/bin/python bench/takeover.py --rounds 3

Each round starts an active process and a standby (real processes, a
throwaway PostgreSQL from tests/servers/postgres.py, the fake Telegram Bot
API), SIGKILLs the active one and measures, from the kill, the seconds until
the standby holds the lock and until its Telegram transport has started
(polling again). The fence
(storage.leader.FENCE_S, 6 s) is most of it, on purpose. Prints figures
only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.telegram.server import FakeTelegramServer
from tests.ops.deployment import TOKEN, Deployment
from tests.servers.postgres import PostgresServer


async def one_round(pg: PostgresServer, root: Path) -> tuple[float, float]:
    async with FakeTelegramServer() as server:
        server.add_bot(TOKEN)
        dep = Deployment(server, root, pg.create_database(), server.new_group("Advisory"))
        code, out, err = await dep.command("a", "init")
        assert code == 0, out + err
        try:
            active = await dep.run("a")
            await active.wait_for_line("active: this process holds the database lock", 60)
            await server.wait_until_polling(timeout=30)
            standby = await dep.run("b")
            await standby.wait_for_line("standby: another process is active", 60)
            killed = time.monotonic()
            await active.kill()
            await standby.wait_for_line("active: took over the database lock", 60)
            locked = time.monotonic() - killed
            # Logged once start_polling has begun (the fake server records a
            # long poll only when it ends, so its log would be 30 s late).
            await standby.wait_for_line("telegram transport started", 60)
            return locked, time.monotonic() - killed
        finally:
            await dep.stop_all()


async def main(rounds: int) -> None:
    locks, polls = [], []
    with PostgresServer() as pg, tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            locked, polling = await one_round(pg, Path(tmp) / f"round{n}")
            locks.append(locked)
            polls.append(polling)
            print(f"round {n + 1}: lock after {locked:.2f} s, polling after {polling:.2f} s")
    print(
        f"takeover over {rounds} rounds: lock median {statistics.median(locks):.2f} s, "
        f"polling median {statistics.median(polls):.2f} s, worst {max(polls):.2f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
