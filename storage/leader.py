"""One active process per PostgreSQL database: a session-level advisory lock.

Two ``sosbot run`` processes may share a database; the one holding the
lock is active, the other blocks inside ``pg_advisory_lock`` on its own
connection — it polls no platform and sends nothing — until the lock is
free. PostgreSQL releases a session lock the moment the session ends:

* the active process dies (SIGKILL, power loss): the kernel closes its
  socket, the backend ends at once;
* the active process hangs or its host vanishes: ``idle_session_timeout``
  and TCP keepalives end the session within about ``SESSION_TIMEOUT_S``;
* the active process loses its lock connection: ``watch`` notices within
  ``WATCH_INTERVAL_S`` and the process must stop at once.

Because a process that lost its lock needs up to ``WATCH_INTERVAL_S`` (plus
a ping's timeout) to notice, the new leader waits ``FENCE_S`` before it does
anything (``acquire``): the two are never active together. What was in
flight at the switch is settled by the outbox as after any crash.

This uses asyncpg directly (already the PostgreSQL driver): a lock held for
the life of a process needs one dedicated connection outside SQLAlchemy's
pool, which would recycle or share it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg  # type: ignore[import-untyped,unused-ignore]
from sqlalchemy.engine import make_url

LOCK_KEY = 0x736F73626F74  # "sosbot": advisory locks are per database, so one key suffices
WATCH_INTERVAL_S = 2.0
PING_TIMEOUT_S = 2.0
FENCE_S = 2 * WATCH_INTERVAL_S + PING_TIMEOUT_S
SESSION_TIMEOUT_S = 10
APPLICATION_NAME = "sosbot-leader"


_LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class LeadershipLost(Exception):
    """The lock's connection is gone: another process may be active now."""


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    """The advisory lock's connection; ``acquire`` blocks until this process leads."""

    def __init__(self, url: str, *, fence: float = FENCE_S) -> None:
        self._dsn = _dsn(url)
        self._fence = fence
        self._conn: Any = None

    async def connect(self) -> bool:
        """Connect and try the lock once; True if this process leads at once."""
        try:
            return await self._connect()
        except _LOST as exc:
            raise LeadershipLost(type(exc).__name__) from None

    async def _connect(self) -> bool:
        self._conn = await asyncpg.connect(
            self._dsn,
            timeout=10,
            server_settings={
                "application_name": APPLICATION_NAME,
                # A leader that stops answering loses its lock (the watch pings well
                # within this); a standby is never idle: it waits inside a query.
                "idle_session_timeout": f"{SESSION_TIMEOUT_S}s",
                "tcp_keepalives_idle": "5",
                "tcp_keepalives_interval": "2",
                "tcp_keepalives_count": "2",
            },
        )
        return bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY))

    async def acquire(self, *, took_at_once: bool) -> None:
        """Wait for the lock inside PostgreSQL (no polling), then the fence."""
        if not took_at_once:
            try:
                await self._conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
            except _LOST as exc:
                raise LeadershipLost(type(exc).__name__) from None
            # The previous leader may not yet know it lost the lock: give it time to stop.
            await asyncio.sleep(self._fence)

    async def watch(self) -> None:
        """Return never; raise ``LeadershipLost`` as soon as the lock's session is gone."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                await self._conn.fetchval("SELECT 1", timeout=PING_TIMEOUT_S)
            except _LOST as exc:
                raise LeadershipLost(type(exc).__name__) from None

    async def close(self) -> None:
        if self._conn is not None:
            try:
                await asyncio.wait_for(self._conn.close(), PING_TIMEOUT_S)
            except _LOST:
                self._conn.terminate()
            self._conn = None
