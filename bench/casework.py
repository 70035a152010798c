"""Casework throughput: closing with a statistics row, filtering cases, counting a decade.

Through the repositories and the same counting code as ``sosbot stats``:

    .venv/bin/python bench/casework.py                  # SQLite + a throwaway PostgreSQL
    .venv/bin/python bench/casework.py --cases 300 --rows 100000 --postgres postgresql+asyncpg://…

Prints figures only; asserts nothing; never runs in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.storage import on_both_backends, print_table
from handlers import statistics
from handlers.statistics import DIMENSIONS
from storage import Database
from storage.migrate import upgrade_to_head
from storage.records_casework import StatRow

ADVISOR = "matrix:@alice:example.org"
TAGS = {"country": ("CO",), "threat": ("death_threat", "surveillance"), "profile": ("whrd",)}


def clock() -> datetime:
    return datetime.now(UTC)  # a benchmark may read the real clock


def synthetic(n: int) -> StatRow:
    countries = ("CO", "MX", "KE", "PH", "GT", "BR", "CD", "IN", None)
    threats = ("death_threat", "surveillance", "raid", "harassment", "arrest", "smear")
    month = f"{2016 + n % 10}-{1 + n % 12:02d}"
    return StatRow(
        month, month, countries[n % 9], ("americas", "africa", "asia")[n % 3],
        (threats[n % 6], threats[n * 5 % 6]), ("police",), ("whrd",), "member", "days",
        n % 300, n % 900, n % 2, n % 40, n % 3, n % 2,
        ("resolved", "risk_reduced", "ongoing_risk", "worsened", "unknown")[n % 5],
    )  # fmt: skip


async def bench(url: str, cases: int, rows: int) -> dict[str, float]:
    await upgrade_to_head(url)
    db = await Database.open(url, os.urandom(32), clock)
    results: dict[str, float] = {}
    try:
        refs = [f"C-{n:06d}" for n in range(cases)]
        for ref in refs:
            await db.cases.create(ref, None, "days", "trusted_partners", "telegram", "x", "y", "z")
            await db.casefile.set_tags(ref, ADVISOR, TAGS)
        start = time.perf_counter()
        files = await db.casefile.files(include_closed=False)
        results["/cases: open cases read (ms)"] = (time.perf_counter() - start) * 1000
        assert len(files) == cases
        start = time.perf_counter()
        for ref in refs:
            await db.casefile.close(ref, ADVISOR, "resolved", None, lambda c: "americas")
        results["closes with stats row per s"] = cases / (time.perf_counter() - start)

        await db.stats.add_rows([synthetic(n) for n in range(rows)])
        start = time.perf_counter()
        found = await db.stats.rows("2016-01", "2025-12")
        results[f"read {rows} stats rows (ms)"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        for by in DIMENSIONS:
            statistics.table(found, by)
        results["7 protected tables (ms)"] = (time.perf_counter() - start) * 1000
        tracemalloc.start()  # apart from the timing: tracing slows Python down
        await db.stats.rows("2016-01", "2025-12")
        results["peak memory, reading the rows (MiB)"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    finally:
        await db.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="a postgresql+asyncpg:// URL of an empty database")
    args = parser.parse_args()

    table = await on_both_backends(lambda url: bench(url, args.cases, args.rows), args.postgres)
    print_table(table, 36, 1)


if __name__ == "__main__":
    asyncio.run(main())
