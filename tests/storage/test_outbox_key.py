"""Outbox rows are sealed under a data key that units share for a minute after
the unit that made it committed (``Store.outbox_key``), never a key whose row
was rolled back or destroyed (on both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage import Database
from storage.repos.outbox import Message
from tests.storage.conftest import Clock, raw


async def keys_of_rows(db: Database, db_url: str) -> list[int]:
    async with raw(db_url) as conn:
        rows = await conn.execute(text("SELECT data_key_id FROM outbox ORDER BY seq"))
        return [int(r[0]) for r in rows]


async def key_count(db_url: str) -> int:
    async with raw(db_url) as conn:
        return int((await conn.execute(text("SELECT count(*) FROM data_keys"))).scalar_one())


async def queue(db: Database, body: str) -> None:
    await db.run(lambda: db.outbox.post(Message("telegram:100", body)))


async def test_turns_within_a_minute_share_one_key(db: Database, db_url: str, clock: Clock) -> None:
    await queue(db, "one")
    made = await key_count(db_url)
    clock.advance(seconds=30)
    await queue(db, "two")
    assert await key_count(db_url) == made, "no key made for the second turn"
    clock.advance(seconds=31)
    await queue(db, "three")
    assert await key_count(db_url) == made + 1, "a fresh key after a minute"
    first, second, third = await keys_of_rows(db, db_url)
    assert first == second != third
    bodies = [item.body for item in await db.outbox.claim(10, lease=None)]
    assert bodies == ["one", "two", "three"]


async def test_a_key_whose_unit_rolled_back_is_never_shared(db: Database, db_url: str) -> None:
    async def failing() -> None:
        await db.outbox.post(Message("telegram:100", "rolled back"))
        raise RuntimeError("the turn fails")

    with pytest.raises(RuntimeError):
        await db.run(failing)
    before = await key_count(db_url)
    await queue(db, "kept")
    assert await key_count(db_url) == before + 1, "the rolled-back key was not reused"
    assert [item.body for item in await db.outbox.claim(10, lease=None)] == ["kept"]


async def test_a_destroyed_key_is_never_reused(db: Database, db_url: str) -> None:
    await queue(db, "one")
    [key_id] = await keys_of_rows(db, db_url)
    items = await db.outbox.claim(10, lease=None)
    await db.outbox.record([i.id for i in items], [])

    async def destroy() -> None:
        async with db._store.write() as session:
            await session.execute(text("DELETE FROM outbox"))
            await db._store.vault.destroy(session, [key_id])

    await db.run(destroy)
    await queue(db, "two")
    [new_key] = await keys_of_rows(db, db_url)
    assert new_key != key_id
    assert [item.body for item in await db.outbox.claim(10, lease=None)] == ["two"]
