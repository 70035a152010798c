"""What every repository shares: sessions, the vault, the clock, field sealing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import CursorResult, Result, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from storage.crypto import associated_data, seal, unseal
from storage.errors import Conflict, NotFound, StorageError
from storage.records import OutboxItem
from storage.vault import Vault

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Now = Callable[[], datetime]
log = logging.getLogger(__name__)

RowT = TypeVar("RowT")
RecordT = TypeVar("RecordT", bound="DataclassInstance")


@dataclass(eq=False)
class Unit:
    """One unit of work: the session every repository call of a turn shares.

    Repositories do not open transactions of their own while a unit is open
    in their task (``Store.write`` and ``Store.read`` join it); what the turn
    decides commits together or not at all. ``after_commit`` callbacks run
    once the transaction is durable (waking the outbox dispatcher);
    ``checkpoint``: the unit erased something, so the SQLite write-ahead log
    is emptied once it has committed (``Store.checkpoint_after_commit``).
    """

    session: AsyncSession
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    open: bool = True
    checkpoint: bool = False
    outbox_key: tuple[int, bytes] | None = None
    """The data key this unit's outbox rows are sealed with: one per turn, not one
    per message (a turn that answers, posts a card and tells the rooms creates
    one key). Forgotten if the SAVEPOINT that created it rolls back."""
    memo: dict[Any, Any] = field(default_factory=dict)
    """What a repository read earlier in this unit and may use again instead of
    reading it twice (a conversation's account key). Each entry is checked by
    the statement that relies on it, so a rolled-back write cannot mislead."""


SHARED_OUTBOX_KEY = timedelta(minutes=1)
"""How long units seal their outbox rows with one shared data key."""

_UNIT: ContextVar[Unit | None] = ContextVar("sosbot_unit", default=None)


def current_unit() -> Unit | None:
    """The unit of work open in this task, if any (a closed one does not count:
    a task spawned inside a unit inherits the variable after the unit ended)."""
    unit = _UNIT.get()
    return unit if unit is not None and unit.open else None


def run_callbacks(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:  # a wake-up must never undo a committed turn
            log.error("after-commit callback failed: %s", type(exc).__name__)


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

    write_waiting: int = 0
    """Writers waiting for ``write_lock`` (SQLite)."""
    shared_outbox_key: tuple[int, bytes, datetime] | None = None
    """The committed outbox data key units reuse (``outbox_key``), with when it was made."""
    posted: Callable[[str, Sequence[OutboxItem]], None] | None = None
    """Called with a platform after a commit that queued messages for it (wakes the
    dispatcher), with the messages themselves where the unit has them at hand."""
    scheduled: Callable[[datetime], None] | None = None
    """Called with a deadline's time after the commit that set it (arms the scheduler)."""
    _seq: int = 0

    def next_seq(self) -> int:
        """An increasing number for queue order: microseconds of the wall clock, never
        repeating or going back within the process (random ids say nothing of order)."""
        self._seq = max(self._seq + 1, time.time_ns() // 1000)
        return self._seq

    def notify_posted(self, platform: str, items: Sequence[OutboxItem] = ()) -> None:
        """After the current unit commits, wake whoever drains ``platform``'s outbox.

        ``items``: the rows just queued, as a claim would read them back, handed
        over so that the dispatcher need not read what the turn has in memory."""
        hook = self.posted
        if hook is not None:
            self.after_commit(lambda: hook(platform, items))

    def notify_scheduled(self, due_at: datetime) -> None:
        """After the current unit commits, tell the scheduler a deadline is set for ``due_at``."""
        hook = self.scheduled
        if hook is not None:
            self.after_commit(lambda: hook(due_at))

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

    async def checkpoint_after_commit(self) -> None:
        """Empty the write-ahead log once the current unit of work has committed
        (at once if none is open).

        A checkpoint inside a transaction would copy nothing of it (the
        erasure is not committed yet) and SQLite refuses to truncate a log
        its own connection is writing, so an open unit only records that it
        erased something; whoever ran the unit calls ``checkpoint_committed``
        after the commit (``unit`` below, ``GroupCommit.run``).
        """
        unit = current_unit()
        if unit is None:
            await self.checkpoint()
        else:
            unit.checkpoint = True

    async def checkpoint_committed(self) -> None:
        """The after-commit checkpoint: the erasure is already durable, so a
        failure here is logged (without content) instead of failing the turn
        that erased; the next erasure, purge or SQLite's own auto-checkpoint
        empties the log then (docs/security.md)."""
        try:
            await self.checkpoint()
        except StorageError as exc:
            log.error("write-ahead log not emptied after an erasure: %s", exc)

    @contextlib.asynccontextmanager
    async def write(self, *, savepoint: bool = True) -> AsyncIterator[AsyncSession]:
        """A read-write transaction, committed on success, rolled back on error.

        Inside an open unit of work this is a SAVEPOINT of the unit's
        transaction instead: the call stays all-or-nothing (a taken
        reference can be retried) and commits with the rest of the turn.
        ``savepoint=False``: join the unit without one, for writes that no
        caller catches (queueing a message, saving a conversation, marking
        rows sent): if one fails, the turn fails and its own savepoint rolls
        it all back; two statements fewer per call.
        """
        unit = current_unit()
        if unit is not None and not savepoint:
            with _storage_errors():
                yield unit.session
            return
        if unit is not None:
            had_key = unit.outbox_key is not None
            try:
                with _storage_errors():
                    async with unit.session.begin_nested():
                        yield unit.session
            except BaseException:
                if not had_key:  # its row was rolled back with the savepoint
                    unit.outbox_key = None
                raise
            return
        async with self.unit() as fresh:
            yield fresh.session

    async def outbox_key(self, session: AsyncSession) -> tuple[int, bytes]:
        """The data key for outbox rows queued now.

        Units share one for ``SHARED_OUTBOX_KEY`` after it committed (a key per
        turn cost a write and a wrap every turn); a unit that finds none fresh
        makes one, and shares it once it is durable. Outbox keys are destroyed
        only when every row they sealed is purged, days after the last use.
        """
        unit = current_unit()
        if unit is None or unit.session is not session:
            return await self.vault.new_key(session, self.now())
        if unit.outbox_key is None:
            unit.outbox_key = self._shared_outbox_key() or await self._new_outbox_key(unit)
        return unit.outbox_key

    def _shared_outbox_key(self) -> tuple[int, bytes] | None:
        shared = self.shared_outbox_key
        if shared is None:
            return None
        key_id, key, made = shared
        # Not once the vault has let it go (destroyed, or its cache emptied).
        if self.now() - made > SHARED_OUTBOX_KEY or not self.vault.holds(key_id):
            self.shared_outbox_key = None
            return None
        return key_id, key

    async def _new_outbox_key(self, unit: Unit) -> tuple[int, bytes]:
        made = self.now()
        key_id, key = await self.vault.new_key(unit.session, made)

        def share() -> None:  # the unit committed; its key's row is durable
            if unit.outbox_key is not None and unit.outbox_key[0] == key_id:
                self.shared_outbox_key = (key_id, key, made)

        unit.after_commit.append(share)
        return key_id, key

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """A unit of work of its own: one transaction that nested calls join."""
        unit: Unit | None = None
        await self.lock_writes()
        try:
            with _storage_errors():
                async with self.sessions.begin() as session:
                    unit = Unit(session)
                    token = _UNIT.set(unit)
                    try:
                        yield unit
                    finally:
                        unit.open = False
                        _UNIT.reset(token)
        finally:
            self.unlock_writes()
        assert unit is not None
        run_callbacks(unit.after_commit)
        if unit.checkpoint:
            await self.checkpoint_committed()

    async def lock_writes(self) -> None:
        """SQLite: wait for this process's one writer slot (counted while waiting, so a
        group commit can tell that someone else wants to write and close its batch)."""
        if self.write_lock is None:
            return
        self.write_waiting += 1
        try:
            await self.write_lock.acquire()
        finally:
            self.write_waiting -= 1

    def unlock_writes(self) -> None:
        if self.write_lock is not None:
            self.write_lock.release()

    def unit_open(self) -> bool:
        return current_unit() is not None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current unit of work has committed (now if none)."""
        unit = current_unit()
        if unit is None:
            run_callbacks([callback])
        else:
            unit.after_commit.append(callback)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (inside a unit of work: the unit's own session)."""
        unit = current_unit()
        if unit is not None:
            with _storage_errors():
                yield unit.session
            return
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


async def load_by_ref(
    session: AsyncSession, model: type[RowT], ref: str, missing: str, *, lock: bool = False
) -> RowT:
    """The row of ``model`` with this ``ref`` (its public reference), locked for update
    if ``lock``; ``NotFound(missing)`` when there is none."""
    stmt = select(model).filter_by(ref=ref)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(missing)
    return row


async def refuse_taken_ref(
    session: AsyncSession, column: InstrumentedAttribute[str], ref: str, what: str
) -> None:
    """``Conflict`` when ``ref`` is already the public reference (``column``) of a ``what``."""
    if await session.scalar(select(column).where(column == ref)) is not None:
        raise Conflict(f"{what} reference already in use")


def record_from(record_type: type[RecordT], source: object, /, **given: Any) -> RecordT:
    """A ``record_type`` (a dataclass) with the fields ``given``, every other field
    copied from the same-named attribute of ``source`` (a row, or the smaller record
    this one extends). What is more than a copy (an opened ciphertext, a derived
    value) must be given: a sealed column has another name, so it is never copied."""
    copied = {f.name: getattr(source, f.name) for f in fields(record_type) if f.name not in given}
    return record_type(**copied, **given)


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
