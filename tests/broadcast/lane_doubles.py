"""Virtual time, an in-memory outbox and a scripted messenger for the lane's unit tests.

``VirtualTime`` moves only when every task is waiting: ``run_until`` lets
the event loop settle, then jumps to the earliest sleeper's wake-up time.
Nothing here touches a thread or a socket, so "settled" means settled.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from bot.broadcast.dispatcher import Dispatcher
from bot.broadcast.lane import LanePolicy
from bot.broadcast.limits import Gate
from handlers.hub import MessengerHub
from handlers.messages import Address, Option, Platform, Sent
from handlers.messenger import Messenger
from handlers.services import Services
from handlers.settings import Settings
from storage import Database
from storage.records import OutboxItem
from storage.repos.outbox import PENDING, SENDING, UNCERTAIN, Outcome

T = TypeVar("T")

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        """The database's clock, on the same virtual time."""
        return EPOCH + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def settle(self) -> None:
        for _ in range(30):
            await asyncio.sleep(0)

    async def run_until(self, done: Callable[[], bool], limit: float = 3600.0) -> None:
        """Let everything run, jumping over idle time, until ``done()``."""
        while True:
            await self.settle()
            if done():
                return
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled
            if not self._sleepers:
                raise AssertionError("nothing left to wait for, and not done")
            when = self._sleepers[0][0]
            if when > limit:
                raise AssertionError(f"not done by virtual time {limit}")
            self.now = max(self.now, when)
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)


@dataclass
class Row:
    item: OutboxItem
    status: str = PENDING
    not_before: datetime = EPOCH
    claimed_until: datetime | None = None
    error: str | None = None
    updated_at: datetime = EPOCH


@dataclass
class MemoryOutbox:
    """The part of ``db.outbox`` the dispatcher uses, in memory."""

    time: VirtualTime
    rows: dict[int, Row] = field(default_factory=dict)
    fail_records: int = 0
    record_latency: float = 0.0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(
        self, address: str, text: str = "Urgent action", kind: str = "appeal", **extra: Any
    ) -> int:
        item_id = next(self._ids)
        item = OutboxItem(item_id, kind, "A-1", address, "en", text, 0, **extra)
        self.rows[item_id] = Row(item)
        return item_id

    def status(self, item_id: int) -> str:
        return self.rows[item_id].status

    def statuses(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self.rows.values():
            found[row.status] = found.get(row.status, 0) + 1
        return found

    async def claim(
        self,
        limit: int,
        lease: timedelta | None,
        *,
        platform: str | None = None,
        urgent_only: bool = False,
        exclude: Collection[int] = (),
    ) -> list[OutboxItem]:
        now = self.time.wall()
        taken = []
        for row in self.rows.values():
            if len(taken) == limit:
                break
            if row.status != PENDING or row.not_before > now:
                continue
            if row.claimed_until is not None and row.claimed_until > now:
                continue
            if platform is not None and not row.item.address.startswith(platform + ":"):
                continue
            if urgent_only and row.item.priority != 0:
                continue
            if row.item.id in exclude:
                continue
            row.claimed_until = now + (lease or timedelta(0))
            row.item = OutboxItem(
                **{**_fields(row.item), "attempts": row.item.attempts + 1}  # type: ignore[arg-type]
            )
            taken.append(row.item)
        return taken

    async def record(self, starting: Sequence[int], outcomes: Sequence[Outcome]) -> set[int]:
        if self.record_latency:  # a commit takes a while: the write happens at its end
            await self.time.sleep(self.record_latency)
        if self.fail_records:
            self.fail_records -= 1
            raise RuntimeError("database is locked")
        for outcome in outcomes:
            row = self.rows[outcome.item_id]
            row.status, row.error, row.claimed_until = outcome.status, outcome.error, None
            row.updated_at = self.time.wall()
            if outcome.retry_at is not None:
                row.not_before = outcome.retry_at
        marked = set()
        for item_id in starting:
            row = self.rows[item_id]
            if row.status == PENDING:
                row.status, row.updated_at = SENDING, self.time.wall()
                marked.add(item_id)
        return marked

    async def release_claims(self) -> int:
        for row in self.rows.values():
            row.claimed_until = None
        return 0

    async def fill_platforms(self) -> int:
        return 0

    async def settle_in_flight(self, resend: Sequence[str], since: datetime) -> dict[str, int]:
        for row in self.rows.values():
            if row.status == SENDING:
                resendable = row.item.address.split(":")[0] in resend
                row.status = PENDING if resendable else UNCERTAIN
                row.updated_at = self.time.wall()
        return {}

    async def recent_sends(
        self, platforms: Sequence[str], since: datetime
    ) -> list[tuple[str, str | None, datetime]]:
        return [
            (row.item.address.split(":")[0], row.item.address, row.updated_at)
            for row in sorted(self.rows.values(), key=lambda row: row.updated_at)
            if row.status not in (PENDING,)
            and row.updated_at >= since
            and row.item.address.split(":")[0] in platforms
        ]

    async def running(self) -> list[object]:
        return []


def _fields(item: OutboxItem) -> dict[str, object]:
    return {name: getattr(item, name) for name in OutboxItem.__dataclass_fields__}


@dataclass
class MemoryMembers:
    inactive: list[str] = field(default_factory=list)

    async def mark_group_inactive(self, address: str) -> bool:
        self.inactive.append(address)
        return True


@dataclass
class FakeDb:
    outbox: MemoryOutbox
    members: MemoryMembers = field(default_factory=MemoryMembers)

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """A unit of work: the memory outbox applies each call at once."""
        return await work()


@dataclass
class VirtualClock:
    time: VirtualTime

    def now(self) -> datetime:
        return self.time.wall()


Script = Callable[[Address, int], BaseException | None]
"""(chat, how many sends to it so far) → an error to raise instead of sending, or None."""


@dataclass
class ScriptedMessenger:
    """Records every delivery at its virtual time; may dedupe by txn id like Synapse."""

    time: VirtualTime
    platform: Platform = Platform.TELEGRAM
    dedupe_txn: bool = False
    latency: float = 0.0
    script: Script = lambda _chat, _n: None
    delivered: list[tuple[float, Address, str, str | None]] = field(default_factory=list)
    left: list[tuple[float, Address]] = field(default_factory=list)  # forget_person (op leave)
    calls: dict[Address, int] = field(default_factory=dict)
    in_flight: set[Address] = field(default_factory=set)
    overlapped: bool = False

    async def send_text(
        self, chat: Address, text: str, *, reply_to: str | None = None, txn_id: str | None = None
    ) -> Sent:
        n = self.calls.get(chat, 0)
        self.calls[chat] = n + 1
        if chat in self.in_flight:
            self.overlapped = True
        self.in_flight.add(chat)
        try:
            if self.latency:
                await self.time.sleep(self.latency)
            error = self.script(chat, n)
            if error is not None and not getattr(error, "after_effect", False):
                raise error
            if not (self.dedupe_txn and any(d[3] == txn_id for d in self.delivered)):
                self.delivered.append((self.time.now, chat, text, txn_id))
            if error is not None:
                raise error
            return Sent(chat, str(len(self.delivered)))
        finally:
            self.in_flight.discard(chat)

    async def ask(
        self, chat: Address, text: str, options: Sequence[Option], *, txn_id: str | None = None
    ) -> Sent:
        labels = " / ".join(o.label for o in options)
        return await self.send_text(chat, f"{text} [{labels}]", txn_id=txn_id)

    def to(self, chat: Address) -> list[str]:
        return [text for _, c, text, _ in self.delivered if c == chat]

    async def forget_person(self, account: Address) -> None:
        self.left.append((self.time.now, account))


def services_for(outbox: MemoryOutbox, *messengers: ScriptedMessenger) -> Services:
    hub = MessengerHub()
    for messenger in messengers:
        hub.register(messenger.platform, cast(Messenger, messenger))
    db = cast(Database, FakeDb(outbox))
    return Services(db=db, clock=VirtualClock(outbox.time), settings=Settings(), hub=hub)


def dispatcher_for(
    services: Services, time: VirtualTime, *lanes: tuple[LanePolicy, Gate]
) -> Dispatcher:
    return Dispatcher(services, lanes, clock=time, sleep=time.sleep, progress_interval=3600)
