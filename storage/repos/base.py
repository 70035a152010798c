"""What every repository shares: sessions, the vault, the clock, field sealing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, Result
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.crypto import associated_data, seal, unseal
from storage.errors import Conflict, StorageError
from storage.vault import Vault

Now = Callable[[], datetime]


@dataclass
class Store:
    """The shared plumbing handed to every repository (built once by ``Database``)."""

    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    clock: Now
    dialect: str
    write_lock: asyncio.Lock | None = None
    """SQLite only: one writer at a time in this process, so no one spins on the file lock."""
    lock_reads: bool = False
    """In-memory SQLite shares one connection: reads must queue too."""
    wal_engine: AsyncEngine | None = None
    """SQLite file databases: the engine whose write-ahead log ``checkpoint`` empties."""

    async def checkpoint(self) -> None:
        """After an erasure: copy the ``-wal`` into the database and truncate it.

        Every commit in the ``-wal`` is an earlier state of the database that
        SQLite can be made to open, wrapped data keys included, so erased
        records stay readable with the master key until the log is emptied.
        ``secure_delete`` then leaves no trace in the main file's pages.
        Under the write lock, outside any transaction; PostgreSQL has no
        such file (its dead rows are a documented limit).
        """
        if self.wal_engine is None:
            return
        lock = self.write_lock or contextlib.nullcontext()
        with _storage_errors():
            async with lock, self.wal_engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = (await cursor.fetchone())[0]
                await cursor.close()
        if busy:
            raise StorageError("the write-ahead log could not be emptied (a reader held it)")

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A read-write transaction, committed on success, rolled back on error."""
        lock = self.write_lock or contextlib.nullcontext()
        with _storage_errors():
            async with lock, self.sessions.begin() as session:
                yield session

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction."""
        lock = self.write_lock if self.lock_reads and self.write_lock else contextlib.nullcontext()
        with _storage_errors():
            async with lock, self.read_sessions.begin() as session:
                yield session

    def now(self) -> datetime:
        value = self.clock()
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the injected clock must return timezone-aware datetimes")
        return value.astimezone(UTC)

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    """Database failures leave storage as storage errors (the driver's error is the cause)."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict("the change conflicts with existing data") from exc
    except DBAPIError as exc:
        raise StorageError(f"database error ({type(exc.orig).__name__})") from exc


def unique_violation(error: BaseException, constraint: str, sqlite_column: str) -> bool:
    """Whether ``error`` (a ``Conflict``) came from that unique constraint.

    PostgreSQL names the constraint, SQLite names the column ("cases.ref").
    """
    cause = error.__cause__
    if not isinstance(cause, IntegrityError):
        return False
    text = str(cause.orig)
    return constraint in text or f"UNIQUE constraint failed: {sqlite_column}" in text


class Repository:
    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def _vault(self) -> Vault:
        return self._store.vault


def rowcount(result: Result[Any]) -> int:
    """Rows touched by an UPDATE or DELETE."""
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def seal_bytes(key: bytes, table: str, field: str, record_id: int | str, data: bytes) -> bytes:
    return seal(key, data, associated_data(table, field, record_id))


def open_bytes(key: bytes, table: str, field: str, record_id: int | str, blob: bytes) -> bytes:
    return unseal(key, blob, associated_data(table, field, record_id))


def utf8(text: str) -> bytes:
    """``text`` as UTF-8, a lone surrogate (which JSON can carry) as U+FFFD.

    Python strings may hold unpaired surrogates that UTF-8 cannot encode;
    refusing them here would crash a person's turn, so they are replaced.
    """
    try:
        return text.encode()
    except UnicodeEncodeError:
        paired = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return paired.encode()


def seal_text(
    key: bytes, table: str, field: str, record_id: int | str, text: str | None
) -> bytes | None:
    if text is None:
        return None
    return seal_bytes(key, table, field, record_id, utf8(text))


def open_text(
    key: bytes, table: str, field: str, record_id: int | str, blob: bytes | None
) -> str | None:
    if blob is None:
        return None
    return open_bytes(key, table, field, record_id, blob).decode()


def seal_json(key: bytes, table: str, field: str, record_id: int | str, value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return seal_bytes(key, table, field, record_id, utf8(text))


def open_json(key: bytes, table: str, field: str, record_id: int | str, blob: bytes) -> Any:
    return json.loads(open_bytes(key, table, field, record_id, blob))
