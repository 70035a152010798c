"""What the SQLite driver runs inline on the event loop's thread and what it sends
to aiosqlite's thread (storage/sqlite_driver.py): nothing that may wait or take
long blocks the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosqlite import Connection
from sqlalchemy import func, select

from storage import Database
from storage.models import OutboxMessage as OutboxRow
from storage.repos.outbox import Message

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each call into aiosqlite's thread, by the function's name."""
    seen: list[str] = []
    original = Connection._execute

    async def counted(self: Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(Connection, "_execute", counted)
    yield seen


async def test_a_turn_hops_for_its_first_statement_and_its_commit_only(
    db: Database, hops: list[str]
) -> None:
    async def turn() -> None:
        for n in range(5):
            await db.outbox.post(Message("telegram:100", f"reply {n}"))
        await db.accounts.find("telegram:100")

    await db.run(turn)
    assert len(hops) == 2, hops  # BEGIN IMMEDIATE with the first statement; the commit
    hops.clear()
    assert await db.accounts.find("telegram:100") is None
    assert hops == [], "a read session runs inline, its end too"


async def test_bulk_and_long_statements_go_to_the_thread(db: Database, hops: list[str]) -> None:
    async def many() -> None:
        await db.outbox.post_many([Message("telegram:100", f"m{n}") for n in range(40)])

    await db.run(many)
    assert len(hops) == 3, hops  # the BEGIN IMMEDIATE, the 40-row insert, the commit

    async def count(ids: list[int]) -> int:
        async with db._store.read() as session:
            query = select(func.count()).select_from(OutboxRow).where(OutboxRow.id.in_(ids))
            return int((await session.execute(query)).scalar_one())

    hops.clear()
    assert await count(list(range(10))) == 0
    assert hops == [], "ten values: inline"
    assert await count(list(range(150))) == 0
    assert len(hops) == 1, "150 values (a purge's IN list): in the thread"


async def test_another_process_holding_the_lock_does_not_stop_the_loop(
    db: Database, sqlite_path: Path
) -> None:
    other = sqlite3.connect(sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the CLI rotating keys, say
    try:
        write = asyncio.create_task(db.run(lambda: db.outbox.post(Message("telegram:1", "x"))))
        ticks = 0
        while ticks < 200:  # the loop goes on while the write waits for the lock
            await asyncio.sleep(0)
            ticks += 1
        assert not write.done()
    finally:
        other.execute("COMMIT")
        other.close()
    await write
    assert [item.body for item in await db.outbox.claim(10, lease=None)] == ["x"]
