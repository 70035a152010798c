"""Per-room ordering, cross-room parallelism, and when a sync counts as handled.

Each room gets one worker task that runs the room's jobs in order and ends
when its queue is empty; different rooms run in parallel. Every job belongs
to the sync batch that brought it. A batch's token is reported through
``on_handled`` only once every job of that batch, and of every earlier
batch, has finished: the token saved on disk never gets ahead of what the
bot actually handled, so a crash replays rather than loses.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


@dataclass
class Batch:
    """One sync response's worth of jobs."""

    token: str
    pending: int = 0
    sealed: bool = False  # all its jobs are enqueued


class RoomQueues:
    def __init__(self, on_handled: Callable[[str], None]) -> None:
        self.on_handled = on_handled
        self.tasks = BackgroundTasks()
        self.batches: deque[Batch] = deque()
        self.queues: dict[str, deque[tuple[Batch, Job]]] = {}
        self.workers: dict[str, asyncio.Task[Any]] = {}

    def open(self, token: str) -> Batch:
        batch = Batch(token)
        self.batches.append(batch)
        return batch

    def seal(self, batch: Batch) -> None:
        batch.sealed = True
        self.advance()

    def enqueue(self, room_id: str, batch: Batch, job: Job) -> None:
        batch.pending += 1
        self.queues.setdefault(room_id, deque()).append((batch, job))
        if room_id not in self.workers:
            self.workers[room_id] = self.tasks.spawn(self._drain(room_id), "matrix-room")

    async def _drain(self, room_id: str) -> None:
        queue = self.queues[room_id]
        try:
            while queue:
                batch, job = queue[0]
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one bad event must not stop the room
                    log.error("Matrix event handling failed: %s", type(exc).__name__)
                queue.popleft()
                batch.pending -= 1
                self.advance()
        finally:
            self.workers.pop(room_id, None)
            if not queue:
                self.queues.pop(room_id, None)

    def advance(self) -> None:
        """Report the newest token all of whose jobs (and earlier ones) are done."""
        token = None
        while self.batches and self.batches[0].sealed and self.batches[0].pending == 0:
            token = self.batches.popleft().token
        if token is not None:
            self.on_handled(token)

    async def stop(self, grace: float) -> None:
        """Let running jobs finish for up to ``grace`` seconds, then cancel the rest."""
        workers = list(self.workers.values())
        if workers:
            await asyncio.wait(workers, timeout=grace)
        await self.tasks.cancel_all()
        self.batches.clear()
        self.queues.clear()
