"""Stored state of an in-memory SQLite test database, at the database level.

``Tables.dump`` reads every row of every table (each column ``quote()``d,
blobs as hex) in one query, so "a refusal changes nothing" can be checked
against the database itself, not against what a repository chooses to
return. ``Tables.save`` / ``Tables.restore`` copy the whole database with
SQLite's backup API: a property builds its bot once and puts the database
back before each example (about a millisecond), instead of migrating a new
one per example.

What a refusal is allowed to change: the outbox row that carries its answer,
that row's broadcast and its data key (``OUTGOING``). Everything else must be
byte for byte the same, ciphertexts included: a rewrite with the same content
under a fresh nonce counts as a change.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from storage import Database

OUTGOING = ("outbox", "broadcasts")
"""Tables that carry the bot's answers: written by every turn that replies."""


class Tables:
    def __init__(self, db: Database, connection: Any) -> None:
        self.db = db
        self._aio = connection  # aiosqlite.Connection (the in-memory database's only one)
        self._snapshot: sqlite3.Connection | None = None
        self._query: str | None = None

    @classmethod
    async def of(cls, db: Database) -> Tables:
        # The test reaches the database's one raw connection (a private attribute).
        engine = db._engine
        if engine.dialect.name != "sqlite" or engine.url.database not in (None, "", ":memory:"):
            raise ValueError("Tables works on an in-memory SQLite database")
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            return cls(db, raw.driver_connection)

    async def _dump_query(self) -> str:
        if self._query is None:
            names = [
                r[0]
                for r in await self._aio.execute_fetchall(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            parts = []
            for name in names:
                if name in OUTGOING:
                    continue
                columns = [
                    r[1] for r in await self._aio.execute_fetchall(f'PRAGMA table_info("{name}")')
                ]
                row = " || ',' || ".join(f'quote("{c}")' for c in columns)
                where = (
                    " WHERE id NOT IN (SELECT data_key_id FROM outbox WHERE data_key_id IS NOT "
                    "NULL UNION SELECT data_key_id FROM broadcasts WHERE data_key_id IS NOT NULL)"
                    if name == "data_keys"
                    else ""
                )
                parts.append(
                    f"SELECT '{name}', (SELECT group_concat(r, char(10)) FROM "
                    f'(SELECT {row} AS r FROM "{name}"{where} ORDER BY r))'
                )
            self._query = " UNION ALL ".join(parts)
        return self._query

    async def dump(self) -> dict[str, str]:
        """Every table but the outgoing ones: name -> its rows, sorted, one per line."""
        rows = await self._aio.execute_fetchall(await self._dump_query())
        return {name: text or "" for name, text in rows}

    async def save(self) -> None:
        """Keep a copy of the whole database as it is now."""
        self._snapshot = sqlite3.connect(":memory:", check_same_thread=False)
        await self._aio.backup(self._snapshot)

    async def restore(self) -> None:
        """Put the database back as ``save`` kept it."""
        assert self._snapshot is not None, "save first"
        snapshot = self._snapshot
        # In aiosqlite's own thread, where its sqlite3 connection lives.
        await self._aio._execute(snapshot.backup, self._aio._conn)
        # Data keys created after the copy are gone; their ids will be used again.
        self.db._store.vault._cache.clear()


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tables whose rows differ."""
    return sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
