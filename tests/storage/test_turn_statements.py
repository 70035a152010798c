"""A turn's conversation: one read and one write, and the full path whenever the
one-statement write cannot be trusted (issue 13's CPU work, on both backends).

``Conversations.load`` remembers the account's key id in the unit of work;
``save`` then writes with one guarded UPDATE. If the row is gone (deleted
earlier in the same unit, or the save is the first), the full path stores it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from storage import Database


def _counting(db: Database) -> list[str]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(db._engine.sync_engine, "before_cursor_execute", count)
    return seen


async def test_a_loaded_conversation_is_written_with_one_update(db: Database) -> None:
    account = await db.accounts.get_or_create("telegram:1", "es")
    await db.conversations.save(account.id, "where", {"what": ["a"]})
    seen = _counting(db)

    async def turn() -> None:
        assert await db.conversations.load(account.id) is not None
        seen.clear()
        await db.conversations.save(account.id, "who", {"what": ["a"], "where": "b"})

    await db.run(turn)
    assert [s for s in seen if s in ("SELECT", "UPDATE", "INSERT")] == ["UPDATE"]
    loaded = await db.conversations.load(account.id)
    assert loaded is not None
    assert (loaded.state, loaded.data) == ("who", {"what": ["a"], "where": "b"})


async def test_a_conversation_deleted_after_its_load_is_stored_again(db: Database) -> None:
    account = await db.accounts.get_or_create("telegram:2", "fr")
    await db.conversations.save(account.id, "where", {"what": ["a"]})

    async def turn() -> None:
        assert await db.conversations.load(account.id) is not None
        assert await db.conversations.delete(account.id)
        # The guarded UPDATE finds no row: the full path inserts it.
        await db.conversations.save(account.id, "what", {"what": []})

    await db.run(turn)
    loaded = await db.conversations.load(account.id)
    assert loaded is not None
    assert (loaded.state, loaded.data) == ("what", {"what": []})


async def test_a_first_conversation_takes_the_full_path(db: Database) -> None:
    account = await db.accounts.get_or_create("telegram:3", "ar")

    async def turn() -> None:
        assert await db.conversations.load(account.id) is None
        await db.conversations.save(account.id, "what", {"what": ["x"]})
        await db.conversations.save(account.id, "where", {"what": ["x", "y"]})

    await db.run(turn)
    loaded = await db.conversations.load(account.id)
    assert loaded is not None
    assert (loaded.state, loaded.data) == ("where", {"what": ["x", "y"]})
