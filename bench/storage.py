"""Storage throughput: cases created and signatures recorded per second.

Everything goes through the repositories, with encryption, the audit chain
and the history, exactly as the bot does it. Run by hand, never in tests:

    .venv/bin/python bench/storage.py                  # SQLite + a throwaway PostgreSQL
    .venv/bin/python bench/storage.py --cases 2000 --postgres postgresql+asyncpg://…/db

Without ``--postgres`` a temporary PostgreSQL cluster is started with the
test suite's helper (tests/servers/postgres.py) when the binaries exist.
Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import Database
from storage.migrate import upgrade_to_head

REPORT = "Armed men came to the community radio and threatened the presenters. " * 20
PHOTO = os.urandom(200_000)


def clock() -> datetime:
    return datetime.now(UTC)  # a benchmark may read the real clock


async def timed(count: int, concurrency: int, job: Callable[[int], Awaitable[object]]) -> float:
    """Run ``job(0..count-1)`` with ``concurrency`` workers; return operations per second."""
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            await job(n)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


async def bench(url: str, cases: int, signatures: int) -> dict[str, float]:
    await upgrade_to_head(url)
    db = await Database.open(url, os.urandom(32), clock)
    results: dict[str, float] = {}
    try:
        reporter = await db.accounts.get_or_create("telegram:5550001", "es")

        async def create(n: int, prefix: str, attach: bool = False) -> None:
            await db.cases.create(
                f"{prefix}-{n:06d}",
                reporter.id,
                "days",
                "advisory_only",
                "telegram",
                what=REPORT,
                where="Cauca, Colombia",
                who="the radio presenters",
                contact="Signal after 6pm",
                attachments=[("photo.jpg", "image/jpeg", PHOTO)] if attach else (),
            )

        results["cases/s (1 writer)"] = await timed(cases, 1, lambda n: create(n, "C"))
        results["cases/s (10 writers)"] = await timed(cases, 10, lambda n: create(n, "D"))
        results["cases+200KB photo/s"] = await timed(
            max(cases // 5, 20), 1, lambda n: create(n, "E", True)
        )

        orgs = []
        for n in range(signatures):
            org = await db.members.upsert_organisation(f"Organisation {n}", region="Americas")
            orgs.append(org.id)
        for ref in ("A-SEQ001", "A-PAR001"):
            await db.appeals.create(ref, "matrix:@alice:example.org")
            await db.appeals.send(ref, "matrix:@alice:example.org", [], [])

        async def sign(n: int, ref: str) -> None:
            await db.appeals.sign(ref, orgs[n], f"telegram:{7_000_000 + n}")

        results["signatures/s (1 writer)"] = await timed(
            signatures, 1, lambda n: sign(n, "A-SEQ001")
        )
        results["signatures/s (10 writers)"] = await timed(
            signatures, 10, lambda n: sign(n, "A-PAR001")
        )
        results["case reads/s"] = await timed(cases, 1, lambda n: db.cases.get(f"C-{n:06d}"))
        assert (await db.audit.verify()).ok
    finally:
        await db.close()
    return results


def postgres_server() -> object | None:
    try:
        from tests.servers.postgres import PostgresServer, find_pg_bindir
    except ImportError:
        return None
    if find_pg_bindir() is None:
        return None
    return PostgresServer().start()


Figures = dict[str, float]


async def on_both_backends(
    run: Callable[[str], Awaitable[Figures]], postgres_url: str | None
) -> dict[str, Figures]:
    """``run(url)`` on a fresh SQLite file, then on PostgreSQL: ``postgres_url``,
    or a throwaway local server when the binaries are there (skipped otherwise)."""
    table: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as folder:
        table["SQLite"] = await run(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
    server = None
    if postgres_url is None:
        server = postgres_server()
        if server is not None:
            postgres_url = server.create_database("sosbot_bench")  # type: ignore[attr-defined]
    try:
        if postgres_url is not None:
            table["PostgreSQL"] = await run(postgres_url)
        else:
            print("PostgreSQL: skipped (no --postgres URL and no local binaries)")
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    return table


def print_table(table: dict[str, Figures], width: int, decimals: int) -> None:
    """One row a figure, one column a backend."""
    names = list(next(iter(table.values())))
    print(f"{'':{width}}" + "".join(f"{backend:>14}" for backend in table))
    for name in names:
        print(f"{name:{width}}" + "".join(f"{table[b][name]:>14.{decimals}f}" for b in table))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--signatures", type=int, default=500)
    parser.add_argument("--postgres", help="a postgresql+asyncpg:// URL of an empty database")
    args = parser.parse_args()

    table = await on_both_backends(
        lambda url: bench(url, args.cases, args.signatures), args.postgres
    )
    print_table(table, 28, 0)


if __name__ == "__main__":
    asyncio.run(main())
