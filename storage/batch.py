"""Group commit: concurrent units of work share one transaction and one fsync.

A turn (one incoming message, one button press, one deadline) is one unit
of work. Committing each alone costs an fsync per turn, which caps the bot
at the disk's commit rate when many people write at once (an appeal's
first minutes, many defenders confirming together). ``GroupCommit`` runs
the turns that arrive together one after another inside ONE transaction,
each in a SAVEPOINT of its own (but the first, which fails by rolling back
the whole transaction, holding nothing else yet), and commits when nobody
else is waiting (or after ``max_batch`` turns):

- each turn stays all-or-nothing: a turn that raises rolls back to its
  savepoint and only that turn fails; the others commit;
- a turn's caller returns only after the batch is durable, so a promise
  made after ``run`` returns is a promise about committed data;
- if the commit itself fails, every turn of the batch is run again alone,
  in a transaction of its own (its earlier attempt was rolled back whole);
- the audit chain is appended in batch order, because turns run one at a
  time in the shared session.

Durability is unchanged: SQLite keeps ``synchronous=FULL``, PostgreSQL its
fsync; fewer commits simply carry more work each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repos.base import _UNIT, Store, Unit, _storage_errors, run_callbacks

T = TypeVar("T")
Work = Callable[[], Awaitable[T]]


class BatchFailed(Exception):
    """The shared commit failed; the turn is run again alone."""


@dataclass(eq=False)
class _Batch:
    session: AsyncSession
    done: asyncio.Future[None]
    opened: float
    size: int = 0
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    broken: bool = False
    """Its first unit failed outside a savepoint: rolled back whole, never committed."""


class GroupCommit:
    def __init__(self, store: Store, max_batch: int = 64, max_age: float = 0.005) -> None:
        self._store = store
        self.max_batch = max_batch
        self.max_age = max_age
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._batch: _Batch | None = None
        self._closers: set[asyncio.Task[None]] = set()
        self.commits = 0
        self.turns = 0

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` as one unit of work; returns when what it did is committed."""
        if self._store.unit_open():
            return await work()  # already inside a unit (a nested call): join it
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            batch = self._batch or await self._open()
            ok, result, error, checkpoint = await self._run_in(batch, work)
            if batch.broken:
                await self._discard(batch)
            elif self._full(batch):
                await self._close(batch)
            else:  # the next turn joins; if it goes away, someone must still commit
                closer = asyncio.create_task(self._close_later(batch), name="group-commit")
                self._closers.add(closer)
                closer.add_done_callback(self._closers.discard)
        finally:
            self._lock.release()
        if not ok:
            assert error is not None
            raise error
        try:
            await asyncio.shield(batch.done)
        except BatchFailed:
            return await self._alone(work)
        if checkpoint:  # the turn erased something: empty the -wal now that it is durable
            await self._store.checkpoint_committed()
        return result  # type: ignore[return-value]

    async def _open(self) -> _Batch:
        await self._store.lock_writes()
        try:
            session = self._store.sessions()
            with _storage_errors():
                await session.begin()
        except BaseException:
            self._store.unlock_writes()
            raise
        loop = asyncio.get_running_loop()
        self._batch = _Batch(session, loop.create_future(), loop.time())
        return self._batch

    def _full(self, batch: _Batch) -> bool:
        """Commit now: nobody else is waiting, the batch is big or old enough, or
        another writer (the outbox journal) waits for the database."""
        return (
            self._waiting == 0
            or batch.size >= self.max_batch
            or self._store.write_waiting > 0
            or asyncio.get_running_loop().time() - batch.opened >= self.max_age
        )

    async def _run_in(
        self, batch: _Batch, work: Work[T]
    ) -> tuple[bool, T | None, BaseException | None, bool]:
        turn = Unit(batch.session)
        token = _UNIT.set(turn)
        # The transaction's first unit needs no savepoint: if it fails, nothing else
        # is in the transaction yet, so the whole of it is rolled back instead.
        first = batch.size == 0
        try:
            with _storage_errors():
                if first:
                    result = await work()
                else:
                    async with batch.session.begin_nested():
                        result = await work()
        except BaseException as exc:  # rolled back (to the savepoint): this turn alone
            batch.broken = first
            return False, None, exc, False
        finally:
            turn.open = False
            _UNIT.reset(token)
        batch.size += 1
        batch.callbacks.extend(turn.after_commit)
        return True, result, None, turn.checkpoint

    async def _close_later(self, batch: _Batch) -> None:
        async with self._lock:
            if self._batch is batch:
                await self._close(batch)

    async def _discard(self, batch: _Batch) -> None:
        """Roll back a batch whose first unit failed (it holds nothing else)."""
        self._batch = None
        try:
            await batch.session.close()  # rolls the transaction back
        finally:
            self._store.unlock_writes()

    async def _close(self, batch: _Batch) -> None:
        self._batch = None
        try:
            with _storage_errors():
                if batch.size:
                    await batch.session.commit()
                else:
                    await batch.session.rollback()
        except Exception as exc:
            batch.done.set_exception(BatchFailed(type(exc).__name__))
            batch.done.exception()  # retrieved: callers that never await it stay quiet
            return
        finally:
            await batch.session.close()
            self._store.unlock_writes()
        self.commits += 1
        self.turns += batch.size
        batch.done.set_result(None)
        run_callbacks(batch.callbacks)

    async def _alone(self, work: Work[T]) -> T:
        async with self._lock, self._store.unit():
            return await work()
