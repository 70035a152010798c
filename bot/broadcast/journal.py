"""Group commit of the outbox's "sending" marks and outcomes.

Before a request leaves, its row must be durably marked ``sending``; after
it returns, its outcome is written. One transaction per send would cap the
dispatcher at the database's commit rate, so senders queue their marks and
outcomes here and one writer commits whatever has gathered, in one
transaction (at 30 messages a second that is one or two rows a commit; at
full speed, hundreds).

A sender waits for its mark (``start``) before sending; it does not wait for
its outcome (``finish``): an outcome lost in a crash leaves the row
``sending``, which the next start treats as in flight (see
``storage.repos.outbox``). ``flush`` writes everything at a graceful stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.broadcast.buckets import Sleep
from storage.repos.outbox import Outbox, Outcome

T = TypeVar("T")
Runner = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]
log = logging.getLogger(__name__)
RETRY_AFTER_ERROR = 1.0  # seconds before writing again after a storage error
LINGER = 0.02  # seconds outcomes wait for marks to share a commit with
MAX_LINGERING = 500


class JournalUnavailable(Exception):
    """The mark could not be written: the message must not be sent now."""


class Journal:
    def __init__(
        self, outbox: Outbox, sleep: Sleep = asyncio.sleep, run: Runner[set[int]] | None = None
    ) -> None:
        self.outbox = outbox
        self.sleep = sleep
        self.run_unit = run
        """The database's group commit: marks share a commit (and its fsync) with the
        turns committing at the same moment, instead of waiting for the writer."""
        self._starts: list[tuple[int, asyncio.Future[bool]]] = []
        self._outcomes: list[Outcome] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def start(self, item_id: int) -> bool:
        """Mark the row sending (committed when this returns).

        False: the row is no longer pending (erased by ``/forget``): never send it.
        ``JournalUnavailable``: storage failed; try again later.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._starts.append((item_id, future))
        self._wake.set()
        return await future

    def finish(self, outcome: Outcome) -> None:
        """Queue a send's outcome for the next commit."""
        self._outcomes.append(outcome)
        self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._starts) + len(self._outcomes)

    async def run(self) -> None:
        """The writer: commits whatever gathered, as long as the dispatcher runs.

        A sender waits for its mark, so marks are written at once. Outcomes
        alone wait a moment (``LINGER``) for marks to travel with: half the
        commits at full speed, and a crash loses at most that moment's
        outcomes (their rows stay "sending": reported, never resent).
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._starts and len(self._outcomes) < MAX_LINGERING:
                await self.sleep(LINGER)
            if not await self._write():
                await self.sleep(RETRY_AFTER_ERROR)
                self._wake.set()

    async def flush(self) -> None:
        """Write everything queued so far, after any write under way (at a graceful stop)."""
        for _ in range(3):
            if not await self._write():
                await self.sleep(RETRY_AFTER_ERROR)
            if not self.backlog:
                return
        if self.backlog:
            log.error("outbox journal: %d entries could not be written", self.backlog)

    def discard(self) -> None:
        """Forget what is not written yet (a simulated crash loses it too)."""
        for _, future in self._starts:
            future.cancel()
        self._starts, self._outcomes = [], []

    async def _write(self) -> bool:
        async with self._lock:
            starts, self._starts = self._starts, []
            outcomes, self._outcomes = self._outcomes, []
            if not starts and not outcomes:
                return True
            try:
                ids = [item_id for item_id, _ in starts]
                if self.run_unit is None:
                    marked = await self.outbox.record(ids, outcomes)
                else:
                    marked = await self.run_unit(lambda: self.outbox.record(ids, outcomes))
            except Exception as exc:  # storage trouble: senders must not send unmarked
                log.error("outbox journal write failed: %s", type(exc).__name__)
                self._outcomes[:0] = outcomes  # kept for the next write
                for _, future in starts:
                    if not future.done():
                        future.set_exception(JournalUnavailable())
                return False
            for item_id, future in starts:
                if not future.done():
                    future.set_result(item_id in marked)
            return True
