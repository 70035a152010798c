"""Group commit (storage/batch.py): turns that arrive together share a transaction,
and each stays whole: a turn that fails leaves nothing, the others commit (on
both backends). The transaction's first turn runs without a savepoint."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event

from storage import Database
from storage.repos.outbox import Message


class Boom(Exception):
    pass


async def known(db: Database, address: str) -> bool:
    return await db.accounts.find(address) is not None


def turn(
    db: Database,
    n: int,
    *,
    fails: bool = False,
    wrote: asyncio.Event | None = None,
    until: asyncio.Event | None = None,
) -> Callable[[], Awaitable[None]]:
    """A unit of work that creates account ``telegram:n`` (then waits for ``until``
    and raises, as asked)."""

    async def work() -> None:
        await db.accounts.get_or_create(f"telegram:{n}")
        if wrote is not None:
            wrote.set()
        if until is not None:
            await until.wait()  # the other turns are waiting for the transaction meanwhile
        if fails:
            raise Boom

    return work


async def test_a_failing_first_turn_leaves_nothing_and_the_next_commits(db: Database) -> None:
    wrote, go_on = asyncio.Event(), asyncio.Event()
    failing = asyncio.create_task(db.run(turn(db, 1, fails=True, wrote=wrote, until=go_on)))
    await wrote.wait()
    joining = asyncio.create_task(db.run(turn(db, 2)))
    await asyncio.sleep(0)
    go_on.set()
    with pytest.raises(Boom):
        await failing
    await joining
    assert [await known(db, f"telegram:{n}") for n in (1, 2)] == [False, True]


async def test_a_failing_later_turn_rolls_back_alone(db: Database) -> None:
    db.group_commit.max_age = 60.0  # the batch stays open while the first turn waits
    wrote, go_on = asyncio.Event(), asyncio.Event()
    one = asyncio.create_task(db.run(turn(db, 1, wrote=wrote, until=go_on)))
    await wrote.wait()
    two = asyncio.create_task(db.run(turn(db, 2, fails=True)))
    three = asyncio.create_task(db.run(turn(db, 3)))
    await asyncio.sleep(0)
    before = db.group_commit.commits
    go_on.set()
    await one
    with pytest.raises(Boom):
        await two
    await three
    assert db.group_commit.commits - before == 1, "the three turns shared one commit"
    assert [await known(db, f"telegram:{n}") for n in (1, 2, 3)] == [True, False, True]


async def test_a_lone_turn_runs_without_a_savepoint_and_fails_whole(db: Database) -> None:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(db._engine.sync_engine, "before_cursor_execute", count)

    async def queued() -> list[str]:
        return [item.body or "" for item in await db.outbox.claim(100, lease=None)]

    await db.run(lambda: db.outbox.post(Message("telegram:1", "kept")))
    assert "SAVEPOINT" not in seen
    assert await queued() == ["kept"]

    async def failing() -> None:
        await db.outbox.post(Message("telegram:1", "rolled back"))
        raise Boom

    with pytest.raises(Boom):
        await db.run(failing)
    assert await queued() == ["kept"]
    await db.run(lambda: db.outbox.post(Message("telegram:1", "after")))  # nothing left locked
    assert await queued() == ["kept", "after"]
