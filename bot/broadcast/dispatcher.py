"""The dispatcher: drains the outbox, one lane per running platform.

At start, before any send, it settles what the last run left: claims are
released, and rows still marked ``sending`` (in flight at a crash) become
``uncertain`` — or pending again on a platform that deduplicates resends
by transaction id (Matrix), if the mark is recent enough for the server to
still remember the transaction. The lanes' flood windows are loaded with
what the outbox records as sent in the last minute, so that a restart does
not start with a full allowance (``limits``). Then each lane drains its platform at that
platform's limits, the journal commits marks and outcomes, and the progress
reporter keeps the triage rooms told.

A graceful ``stop`` takes no new messages, lets the sends in flight finish
(up to a grace period), and writes every outcome: a restart then resumes
with nothing uncertain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from bot.broadcast.buckets import Monotonic, Sleep
from bot.broadcast.journal import Journal
from bot.broadcast.lane import Lane, LanePolicy
from bot.broadcast.limits import Gate, MatrixGate, OpenGate, TelegramGate
from bot.config import Config
from bot.tasks import BackgroundTasks
from bot.transports.base import Transport
from handlers.broadcast import ProgressReporter
from handlers.messages import Address, Platform
from handlers.services import Services
from storage.records import OutboxItem

log = logging.getLogger(__name__)

HISTORY = timedelta(seconds=65)
"""How far back the flood windows are loaded at start (the longest is a minute)."""
RESEND_WINDOW = timedelta(hours=12)
"""Synapse remembers a transaction id for a day; resend only well within that."""
STOP_GRACE = 10.0


class Dispatcher:
    def __init__(
        self,
        services: Services,
        lanes: Sequence[tuple[LanePolicy, Gate]],
        *,
        clock: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        progress_interval: float = 5.0,
        edit_interval: float = 10.0,
        resend_window: timedelta = RESEND_WINDOW,
    ) -> None:
        self.services = services
        self.clock = clock
        self.sleep = sleep
        self.resend_window = resend_window
        self.journal = Journal(services.db.outbox, sleep, services.db.run)
        self.lanes = [
            Lane(policy, gate, services, self.journal, clock, sleep) for policy, gate in lanes
        ]
        # Progress edits count against a Telegram triage group's 20 a minute like any
        # message: one every 10 s leaves two thirds of it to the advisors' work.
        self.reporter = ProgressReporter(
            services, clock=clock, interval=edit_interval, show_after=edit_interval
        )
        self.progress_interval = progress_interval
        self._tasks = BackgroundTasks()
        self._journal_task: asyncio.Task[None] | None = None
        self.settled: dict[str, int] = {}

    @classmethod
    def for_transports(
        cls, config: Config, services: Services, transports: Sequence[Transport]
    ) -> Dispatcher:
        """A lane for each transport, with its platform's limits from the config."""
        lanes: list[tuple[LanePolicy, Gate]] = []
        for transport in transports:
            platform = transport.platform
            if platform is Platform.TELEGRAM:
                telegram = config.telegram
                gate = TelegramGate(
                    telegram.messages_per_second,
                    telegram.group_messages_per_minute,
                    telegram.private_messages_per_second,
                )
                share_gate(transport, gate)
                lanes.append((LanePolicy(platform, idempotent=False), gate))
            elif platform is Platform.MATRIX:
                lanes.append((LanePolicy(platform, idempotent=True), MatrixGate()))
            else:
                lanes.append((LanePolicy(platform), OpenGate()))
        return cls(services, lanes)

    def tune(self, **changes: object) -> None:
        """Change every lane's policy (tests and the benchmark); before ``start``."""
        for lane in self.lanes:
            lane.policy = replace(lane.policy, **changes)  # type: ignore[arg-type]

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        outbox = self.services.db.outbox
        await outbox.fill_platforms()
        await outbox.release_claims()
        resend = [lane.platform.value for lane in self.lanes if lane.policy.idempotent]
        since = self.services.clock.now() - self.resend_window
        self.settled = await outbox.settle_in_flight(resend, since)
        if any(self.settled.values()):
            log.warning(
                "outbox: %d in-flight sends resent by transaction id, %d marked uncertain",
                self.settled.get("pending", 0),
                self.settled.get("uncertain", 0),
            )
        await self._remember_recent_sends()
        self._journal_task = self._tasks.spawn(self.journal.run(), "outbox-journal")
        for lane in self.lanes:
            self._tasks.spawn(lane.feed(), f"outbox-feed-{lane.platform.value}")
            self._tasks.spawn(lane.schedule(), f"outbox-lanes-{lane.platform.value}")
        self._tasks.spawn(self._report(), "outbox-progress")

    async def _remember_recent_sends(self) -> None:
        """Load each lane's flood windows with what was sent in the last minute.

        Runs after ``settle_in_flight``, which stamps the rows that were in
        flight at a crash with the present moment: a request that may still
        have arrived counts as sent just now, the safe side of every window.
        The time a row was last written (its outcome) is never earlier than
        the moment its request arrived.
        """
        now_wall, now = self.services.clock.now(), self.clock()
        lanes = {lane.platform.value: lane for lane in self.lanes}
        recent = await self.services.db.outbox.recent_sends(list(lanes), now_wall - HISTORY)
        for platform, address, at in recent:
            try:
                chat = Address.parse(address) if address else None
            except ValueError:
                chat = None  # still counts against the overall window
            lanes[platform].gate.remember(chat, now - (now_wall - at).total_seconds())
        if recent:
            log.info("outbox: flood windows loaded with %d recent sends", len(recent))

    async def _report(self) -> None:
        while True:
            try:
                await self.reporter.tick()
            except Exception as exc:  # the next tick tries again
                log.error("broadcast progress failed: %s", type(exc).__name__)
            await self.sleep(self.progress_interval)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop gracefully: no new sends, the ones in flight finish, every outcome written."""
        for lane in self.lanes:
            lane.stop()
        late = 0
        for lane in self.lanes:
            late += await lane.drain(grace)
        if late:
            log.warning("outbox: %d sends cut off at stop (they will be reported uncertain)", late)
        await self.journal.flush()
        await self._tasks.cancel_all()
        try:
            await self.services.db.outbox.release_claims()
        except Exception as exc:
            log.error("outbox: releasing claims failed: %s", type(exc).__name__)

    async def kill(self) -> None:
        """Stop the way a crash would: nothing finishes, nothing more is written (tests)."""
        for lane in self.lanes:
            lane.stop()
            lane.cancel_senders()
        await self._tasks.cancel_all()
        self.journal.discard()
        for lane in self.lanes:
            await lane.drain(0)

    def wake(self, platform: str, items: Sequence[OutboxItem] = ()) -> None:
        """Messages for ``platform`` were just committed: its lane takes ``items`` as
        they are, or claims them now."""
        for lane in self.lanes:
            if lane.platform.value == platform:
                if items:
                    lane.take(items)
                else:
                    lane.wake()

    def lane(self, platform: Platform) -> Lane:
        return next(lane for lane in self.lanes if lane.platform is platform)


def share_gate(transport: Transport, gate: TelegramGate) -> None:
    """The Telegram messenger counts its other requests against the same buckets."""
    from bot.transports.telegram_messenger import TelegramMessenger

    messenger = transport.messenger
    if isinstance(messenger, TelegramMessenger):
        messenger.gate = gate
