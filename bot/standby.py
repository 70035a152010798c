"""Which process is active: one per SQLite data folder, one per PostgreSQL database.

SQLite: one process, said at start and enforced with an exclusive ``flock``
on ``<data_dir>/sosbot.lock`` (a second ``run`` fails in one line instead
of fighting over the database file). PostgreSQL: any number of processes;
the one holding the advisory lock (``storage.leader``) is active and the
others wait, quietly, as standbys.

A standby with Matrix enabled must run the active process's device from the
same store folder (shared storage): ``before_waiting`` checks that before it
waits (and ``run`` again at takeover) and refuses in one line otherwise.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from bot.config import Config
from storage.engine import is_sqlite
from storage.leader import Leadership

log = logging.getLogger(__name__)

LOCK_FILE = "sosbot.lock"


class AlreadyRunning(Exception):
    """Another process runs on this SQLite data folder; the message is one line."""


class StandbyRefused(Exception):
    """This process cannot be a standby as configured; the message is one line."""


class Role:
    """Held for the life of ``run``: the folder lock or the database lock."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.leadership: Leadership | None = None
        self._lock_file: IO[bytes] | None = None
        self.took_over = False  # became active after waiting as a standby
        # Called once this process knows it is a standby, before it waits;
        # raises StandbyRefused to refuse (run's Matrix store check).
        self.before_waiting: Callable[[], Awaitable[None]] | None = None

    async def take(self) -> None:
        """Return once this process is the active one (a standby waits here)."""
        if is_sqlite(self.config.storage.url):
            self._lock_folder(self.config.bot.data_dir)
            log.info("storage is SQLite: one process only (a standby needs PostgreSQL)")
            return
        self.leadership = Leadership(self.config.storage.url)
        if await self.leadership.connect():
            log.info("active: this process holds the database lock")
            return
        log.info("standby: another process is active; waiting for the database lock")
        if self.before_waiting is not None:
            await self.before_waiting()
        await self.leadership.acquire(took_at_once=False)
        self.took_over = True
        log.info("active: took over the database lock")

    async def try_take(self) -> bool:
        """Take the role only if free (``discover``): never wait as a standby."""
        if is_sqlite(self.config.storage.url):
            self._lock_folder(self.config.bot.data_dir)
            return True
        self.leadership = Leadership(self.config.storage.url)
        return await self.leadership.connect()

    def _lock_folder(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = open(data_dir / LOCK_FILE, "ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunning(
                f"another sosbot process runs on {data_dir}; SQLite allows one process "
                "(a standby needs PostgreSQL)"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._lock_file = handle

    async def watch(self) -> None:
        """Raise ``storage.leader.LeadershipLost`` when the role is lost; SQLite: never."""
        if self.leadership is not None:
            await self.leadership.watch()
            return
        await asyncio.Event().wait()

    async def release(self) -> None:
        if self.leadership is not None:
            await self.leadership.close()
        if self._lock_file is not None:
            self._lock_file.close()  # closing drops the flock
            self._lock_file = None
