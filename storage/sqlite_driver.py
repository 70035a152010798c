"""SQLAlchemy's aiosqlite dialect: most statements inline, the rest one hop each.

aiosqlite runs SQLite in a thread of its own; SQLAlchemy's adapter makes a
statement four round trips to that thread (make a cursor, execute, fetch
the rows, close the cursor), each a queue put, a thread wake-up and a
callback on the event loop. A turn runs about thirty statements, so most of
its time went to the hops, not to SQLite. Here a statement is one function
run in the thread: cursor, execute, fetch, close, and what SQLAlchemy reads
afterwards (description, rowcount, lastrowid) taken along. Everything else
(transactions, savepoints, the connection's thread, errors) is SQLAlchemy's
and aiosqlite's own.

Two more hops are saved without changing what SQLite runs or in what order:

- transaction control that returns nothing (``BEGIN``, ``BEGIN IMMEDIATE``,
  ``SAVEPOINT``, ``RELEASE SAVEPOINT``) is kept and run in the thread just
  before the next statement, commit or rollback of the same connection, in
  the same order (an error it raises then surfaces at that next call, still
  inside the same transaction);
- a commit or rollback when SQLite has no transaction open (the pool's
  reset of a connection that was already committed) is not sent: SQLite's
  own module would do nothing for it either.

Most statements then need no hop at all (``_may_wait``): a read, or a write
inside a transaction whose lock this process already holds, is microseconds of
SQLite, less than the hop and the event loop's round trip it costs, so it runs
on the loop's thread, and so does the end of a read transaction (a plain
``BEGIN``). What may block runs in aiosqlite's thread as before: the commit
or rollback of a write transaction (the fsync), the first statement of a write transaction
(``BEGIN IMMEDIATE`` waits for another process's lock, up to the busy
timeout), bulk statements, pragmas (a checkpoint) and ``VACUUM``. One
connection serves one session at a time, which awaits each call, so the two
threads never use it at once.

The engine uses it for every ``sqlite+aiosqlite://`` URL (``storage.engine``).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT, await_only

DRIVER = "sosbot_aiosqlite"

Outcome = tuple[Any, int, int | None, list[Any] | None]
"""(description, rowcount, lastrowid, rows or None)."""


_DEFERRED = ("BEGIN", "SAVEPOINT ", "RELEASE SAVEPOINT ")
"""Statements that return nothing and may ride along with the next call."""


def _deferrable(operation: str, parameters: Any, many: bool) -> bool:
    return not many and not parameters and operation.startswith(_DEFERRED)


_IN_THE_THREAD = ("PRAGMA", "VACUUM")
"""Statements that may write the file through (a checkpoint) or take long."""


_INLINE_ROWS = 16
"""A statement run for more parameter sets than this goes to the thread (bulk)."""
_INLINE_PARAMETERS = 100
"""Nor inline: a statement with more values than this (a purge's long ``IN`` list)."""


def _may_wait(pending: list[str], operation: str, parameters: Any, many: bool) -> bool:
    """Whether a statement goes to aiosqlite's thread rather than running inline.

    In the thread: the first statement of a write transaction (its ``BEGIN
    IMMEDIATE`` may wait up to the busy timeout for another process, the CLI
    rotating keys), bulk statements (a broadcast's rows, a purge's long ``IN``
    list), pragmas and ``VACUUM``. A write transaction's commit and rollback
    (the fsync) always run there (``OneHopConnection._end``).
    Everything else is a read or a write inside a transaction this process
    holds the lock of: microseconds of SQLite, cheaper inline than the hop.
    """
    return (
        (many and len(parameters) > _INLINE_ROWS)
        or (not many and parameters is not None and len(parameters) > _INLINE_PARAMETERS)
        or operation.startswith(_IN_THE_THREAD)
        or any(control.startswith("BEGIN IMMEDIATE") for control in pending)
    )


def _control(raw: sqlite3.Connection, pending: list[str]) -> None:
    """In aiosqlite's thread: the transaction control statements kept, in order."""
    for operation in pending:
        raw.execute(operation).close()


def _run(
    raw: sqlite3.Connection, pending: list[str], operation: str, parameters: Any, many: bool
) -> Outcome:
    """In aiosqlite's thread: the whole statement, cursor closed before returning."""
    _control(raw, pending)
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        return  # the cursor was closed in the thread, its rows are here

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._hop(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._hop(operation, seq_of_parameters, many=True)

    async def _hop(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        adapt: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        if _deferrable(operation, parameters, many):
            adapt._pending.append(operation)
            self._description, self._rowcount, self._lastrowid = None, -1, None
            self._rows = collections.deque()
            return
        async with adapt._execute_mutex:
            pending, adapt._pending = adapt._pending, []
            if pending:
                adapt._note_begin(pending)
            if _may_wait(pending, operation, parameters, many):
                outcome: Outcome = await connection._execute(
                    lambda: _run(connection._conn, pending, operation, parameters, many)
                )
            else:  # on the loop's thread: CPU only, for less than the hop costs
                outcome = _run(connection._conn, pending, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows or ())

    def setinputsizes(self, *inputsizes: Sequence[Any]) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_pending", "_writing")
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._pending: list[str] = []
        """Transaction control kept for the next call (see the module's docstring)."""
        self._writing = True
        """The open transaction began with ``BEGIN IMMEDIATE`` (or is not known to be a
        read): its end may fsync, so it runs in aiosqlite's thread."""

    def _note_begin(self, control: list[str]) -> None:
        for operation in control:
            if operation.startswith("BEGIN"):
                self._writing = operation.startswith("BEGIN IMMEDIATE")

    def _end(self, how: str) -> None:
        """Commit or roll back, with the kept control statements first, in one hop."""
        connection = self._connection
        raw: sqlite3.Connection | None = connection._conn
        if raw is None:
            return
        pending, self._pending = self._pending, []
        if not pending and not raw.in_transaction:
            return  # nothing open: sqlite3's own commit/rollback would not reach SQLite

        def run() -> None:
            _control(raw, pending)
            getattr(raw, how)()

        self._note_begin(pending)
        try:
            if self._writing:
                await_only(connection._execute(run))
            else:  # a read transaction's end writes nothing: inline, as its reads
                run()
        except Exception as error:
            self._handle_exception(error)
        finally:
            self._writing = True

    def commit(self) -> None:
        self._end("commit")

    def rollback(self) -> None:
        self._end("rollback")


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        kw.pop("async_creator_fn", None)
        # Statements run inline on the loop's thread, the rest in aiosqlite's; never
        # both at once (a connection serves one session, which awaits each call).
        kw["check_same_thread"] = False
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's own adapter does
        return OneHopConnection(self, await_only(connection))


class OneHopDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))
