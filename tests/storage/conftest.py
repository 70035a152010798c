"""Fixtures for the storage suite: every database test runs on SQLite and PostgreSQL.

``db_url`` is parametrised over a temporary SQLite file and a fresh database
on the session's real PostgreSQL server (``postgres_server``; a missing
server skips locally and fails with CI=true). Schemas are built with
``upgrade_to_head``: each test's database is a copy of one database migrated
once per session (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL), which keeps the suite fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import Database
from storage.engine import make_engine
from storage.migrate import upgrade_to_head
from tests.servers.postgres import PostgresServer

BACKENDS = ["sqlite", "postgresql"]
TEMPLATE_DB = "sosbot_storage_template"


class Clock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture(scope="session")
def pg_template(postgres_server: PostgresServer) -> str:
    """A database migrated once with ``upgrade_to_head``; tests get copies of it."""
    url = postgres_server.create_database(TEMPLATE_DB)
    # Requested from inside a running event loop: migrate on a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, upgrade_to_head(url)).result()
    return TEMPLATE_DB


async def _copy_database(server: PostgresServer, template: str, name: str) -> str:
    conn = await asyncpg.connect(server.dsn("postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return server.url(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once with ``upgrade_to_head``; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "sosbot.db"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, upgrade_to_head(f"sqlite+aiosqlite:///{path}")).result()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "sosbot.db"


@pytest.fixture
async def db_url(
    backend: str, request: pytest.FixtureRequest, sqlite_path: Path
) -> AsyncIterator[str]:
    """The URL of an empty, migrated database on ``backend``."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, sqlite_path)  # closed and checkpointed: one file
        yield f"sqlite+aiosqlite:///{sqlite_path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield await _copy_database(server, request.getfixturevalue("pg_template"), name)
    server.drop_database(name)


@pytest.fixture
async def empty_url(
    backend: str, request: pytest.FixtureRequest, sqlite_path: Path
) -> AsyncIterator[str]:
    """The URL of a database with no schema at all."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{sqlite_path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"e_{uuid.uuid4().hex[:16]}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
async def db(db_url: str, master_key: bytes, clock: Clock) -> AsyncIterator[Database]:
    database = await Database.open(db_url, master_key, clock.now)
    try:
        yield database
    finally:
        await database.close()


@contextlib.asynccontextmanager
async def raw(url: str) -> AsyncIterator[AsyncConnection]:
    """A plain connection for tests that play the attacker (edit rows behind storage's back)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


async def tamper(url: str, sql: str) -> None:
    """One statement behind storage's back, as an attacker with the database file would."""
    async with raw(url) as conn:
        await conn.execute(text(sql))


async def scalar(url: str, sql: str, **params: object) -> object:
    async with raw(url) as conn:
        return (await conn.execute(text(sql), params)).scalar()
