"""Group commit (storage/batch.py): turns that arrive together share a transaction,
and each stays whole: a turn that fails leaves nothing, the others commit (on
both backends). The transaction's first turn runs without a savepoint."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event

from storage import Database
from storage.repos.outbox import Message


class Boom(Exception):
    pass


async def known(db: Database, address: str) -> bool:
    return await db.accounts.find(address) is not None


async def test_a_failing_first_turn_leaves_nothing_and_the_next_commits(db: Database) -> None:
    wrote = asyncio.Event()
    go_on = asyncio.Event()

    async def first() -> None:
        await db.accounts.get_or_create("telegram:1")
        wrote.set()
        await go_on.wait()  # the second turn is waiting for the transaction meanwhile
        raise Boom

    async def second() -> None:
        await db.accounts.get_or_create("telegram:2")

    failing = asyncio.create_task(db.run(first))
    await wrote.wait()
    joining = asyncio.create_task(db.run(second))
    await asyncio.sleep(0)
    go_on.set()
    with pytest.raises(Boom):
        await failing
    await joining
    assert not await known(db, "telegram:1")
    assert await known(db, "telegram:2")


async def test_a_failing_later_turn_rolls_back_alone(db: Database) -> None:
    db.group_commit.max_age = 60.0  # the batch stays open while the first turn waits
    wrote = asyncio.Event()
    go_on = asyncio.Event()

    async def first() -> None:
        await db.accounts.get_or_create("telegram:1")
        wrote.set()
        await go_on.wait()

    async def second() -> None:
        await db.accounts.get_or_create("telegram:2")
        raise Boom

    async def third() -> None:
        await db.accounts.get_or_create("telegram:3")

    one = asyncio.create_task(db.run(first))
    await wrote.wait()
    two = asyncio.create_task(db.run(second))
    three = asyncio.create_task(db.run(third))
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
