"""Engines for SQLite and PostgreSQL, configured for safety first.

SQLite: foreign keys on, write-ahead log, ``secure_delete`` (deleted records
are overwritten, not left in free pages of a seized file), a busy timeout
for other processes (the CLI during a key rotation), and SQLAlchemy emits
``BEGIN`` itself so DDL and SAVEPOINTs are transactional. Write transactions
start with ``BEGIN IMMEDIATE`` so a read-then-write transaction never fails
half-way on a lock upgrade; read-only sessions use a plain ``BEGIN``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage import sqlite_driver

READ_ONLY = "sosbot_read_only"
"""Execution option that marks an engine (and its sessions) as read-only."""

SQLITE_BUSY_TIMEOUT_MS = 30_000


registry.register(f"sqlite.{sqlite_driver.DRIVER}", "storage.sqlite_driver", "OneHopDialect")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_sqlite_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def make_engine(url: str) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs.

    ``hide_parameters``: error messages and SQL logs never show bound values.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        # One thread hop per statement instead of four (storage/sqlite_driver.py).
        fast = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
        engine = create_async_engine(fast, hide_parameters=True)
        _configure_sqlite(engine, memory=is_sqlite_memory(url))
        return engine
    if backend == "postgresql":
        # pre_ping: a standby's pool may sit idle for days before it takes over.
        return create_async_engine(
            url, pool_size=10, max_overflow=20, hide_parameters=True, pool_pre_ping=True
        )
    raise ValueError("storage supports sqlite+aiosqlite:// and postgresql+asyncpg:// URLs")


def _configure_sqlite(engine: AsyncEngine, *, memory: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
