"""One platform's lane: claim due messages, pace them through the gate, send, record.

Each lane runs three loops of its own:

- the feeder claims due outbox rows of its platform (oldest first) and
  keeps a buffer of them in memory, one queue per chat;
- the scheduler picks the next chat whose own limit allows a send (a heap
  ordered by when each chat may next receive), waits for the overall
  limit, and hands the chat's oldest message to a sender;
- senders (one per chat at a time, so a chat gets its messages in order)
  mark the row sending, wait until the gate's strict windows let the
  request leave (counted there until its answer comes), send (at most
  ``concurrency`` requests at once), and queue the outcome.

Outcomes: sent; the destination is gone → inactive (and a member group is
marked inactive), except an advisory room, which is tried again (a card or
an alarm for ever, anything else like a transient failure); a refusal that
certainly delivered nothing (429, connection refused) → pending again later,
with backoff and a bounded number of attempts; a request that may have taken
effect → ``uncertain``, or pending again where the platform deduplicates by
transaction id.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.broadcast.buckets import Monotonic, Sleep
from bot.broadcast.delivery import send_item, txn_id
from bot.broadcast.journal import Journal, JournalUnavailable
from bot.broadcast.limits import Gate
from handlers import relay
from handlers.i18n import N_, current_language, render
from handlers.messages import Address, Platform
from handlers.messenger import (
    DeliveryUncertain,
    DestinationGone,
    RateLimited,
    TransientSendError,
)
from handlers.services import Services
from storage.records import OutboxItem
from storage.repos.outbox import (
    AT_LEAST_ONCE,
    FAILED,
    INACTIVE,
    MAY_HAVE_ARRIVED,
    PENDING,
    SENT,
    UNCERTAIN,
    Outcome,
)

__all__ = ["AT_LEAST_ONCE", "Lane", "LanePolicy", "txn_id"]
log = logging.getLogger(__name__)
PREPARED = 4
"""Senders waiting for their "sending" mark, per request slot: the commit's wait
does not hold a request slot, so slow commits and slow requests overlap."""


@dataclass(frozen=True)
class LanePolicy:
    platform: Platform
    idempotent: bool = False
    """A resend with the same transaction id is deduplicated by the platform."""
    concurrency: int = 8
    batch: int = 200
    max_attempts: int = 6
    rate_limited_attempts: int = 20
    backoff: float = 2.0
    backoff_cap: float = 300.0
    poll_interval: float = 0.5
    run_length: int = 50
    """Messages to one person or room marked together and then sent in order."""
    lease: timedelta = timedelta(hours=6)
    """Claims last until the message is sent; a restart releases them."""


URGENT_HEAD_START = 3600.0
"""Seconds a chat with a message for a person or a room jumps ahead in the heap."""
# Messages to one person or room (priority 0: a receipt, a card, a relayed
# question) are sent again when their delivery is uncertain, even on Telegram:
# a lost receipt or card is a person left without an answer or a missed alert;
# a second copy of it is not a harm. Broadcasts (priority 1) are never repeated
# on Telegram: a network's appeal twice in a member group is. Case cards
# (AT_LEAST_ONCE) also never give up retrying.


MAY_REPEAT = N_(
    "(Sent again: the connection broke while this was being sent, so it may already be above.)"
)


class Lane:
    def __init__(
        self,
        policy: LanePolicy,
        gate: Gate,
        services: Services,
        journal: Journal,
        clock: Monotonic,
        sleep: Sleep,
    ) -> None:
        self.policy = policy
        self.gate = gate
        self.services = services
        self.journal = journal
        self.clock = clock
        self.sleep = sleep
        self._queues: dict[Address, deque[OutboxItem]] = {}
        self._heap: list[tuple[float, int, Address]] = []
        self._scheduled: set[Address] = set()
        self._busy: set[Address] = set()
        self._held: set[int] = set()
        self._senders: set[asyncio.Task[None]] = set()
        self._remembering: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(policy.concurrency)  # requests in flight
        self._queued = asyncio.Semaphore(policy.concurrency * PREPARED)  # senders started
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._hungry = asyncio.Event()
        self._posted = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._caught_up = False
        """At the last claim every due message to a person or room was taken, and
        nothing committed since went unseen: a handed row cannot overtake an
        earlier one of its chat still waiting in the database."""
        self._unseen = 0  # commits whose rows this lane was not handed
        self.sent = 0

    @property
    def platform(self) -> Platform:
        return self.policy.platform

    @property
    def held(self) -> int:
        return len(self._held)

    # ----------------------------------------------------------------- feeder
    def wake(self) -> None:
        """Something was just committed to this platform's outbox: claim it now."""
        self._unseen += 1
        self._caught_up = False
        self._posted.set()
        self._hungry.set()

    def take(self, items: Sequence[OutboxItem]) -> None:
        """A unit of work just committed ``items``: add them without reading them back.

        Only while the lane is caught up (see ``_caught_up``), and only messages
        to people and rooms; anything else is claimed, in queue order. The
        "sending" mark still checks each row is pending (``/forget`` may have
        erased it since)."""
        if not self._caught_up or self._stopping or any(i.priority != 0 for i in items):
            self.wake()
            return
        for item in items:
            self._add(item)

    async def feed(self) -> None:
        outbox = self.services.db.outbox
        while not self._stopping:
            self._hungry.clear()
            urgent_only = len(self._held) > self.policy.batch // 2
            if urgent_only and not self._posted.is_set():
                # Enough in hand: claim again when senders have used half of it.
                await self._wait(self._hungry, self.policy.poll_interval)
                continue
            self._posted.clear()
            unseen = self._unseen
            try:
                # A full buffer still takes messages to people and rooms: a reply
                # never waits behind a broadcast.
                items = await outbox.claim(
                    self.policy.batch,
                    None,
                    platform=self.platform.value,
                    urgent_only=urgent_only,
                    exclude=self._held,
                )
            except Exception as exc:
                log.error("outbox claim failed: %s", type(exc).__name__)
                self._caught_up = False
                items = []
            else:
                for item in items:
                    self._add(item)
                # A claim takes messages to people and rooms first: fewer than asked
                # means every due one is in hand (if nothing was committed meanwhile).
                self._caught_up = len(items) < self.policy.batch and self._unseen == unseen
            if len(items) < self.policy.batch and not self._posted.is_set():
                # Nothing more is due now: look again after the poll interval.
                await self._wait(self._posted, self.policy.poll_interval)

    def _add(self, item: OutboxItem) -> None:
        if item.id in self._held:
            return
        try:
            chat = Address.parse(item.address)
        except ValueError:
            self.journal.finish(Outcome(item.id, FAILED, error="bad_address"))
            return
        self._held.add(item.id)
        self._queues.setdefault(chat, deque()).append(item)
        self._schedule(chat, self.clock() - (URGENT_HEAD_START if item.priority == 0 else 0.0))

    def _schedule(self, chat: Address, at: float) -> None:
        if chat in self._scheduled or chat in self._busy or not self._queues.get(chat):
            return
        self._scheduled.add(chat)
        heapq.heappush(self._heap, (at, next(self._seq), chat))
        self._wake.set()

    # -------------------------------------------------------------- scheduler
    async def schedule(self) -> None:
        # (made here: the policy may have been tuned since __init__)
        self._slots = asyncio.Semaphore(self.policy.concurrency)
        self._queued = asyncio.Semaphore(self.policy.concurrency * PREPARED)
        while not self._stopping:
            await self._queued.acquire()
            chat = await self._next_chat()
            if chat is None:
                self._queued.release()
                return
            queue = self._queues[chat]
            item = queue.popleft()
            if not queue:
                del self._queues[chat]
            self.gate.take(chat)
            self._busy.add(chat)
            task = asyncio.create_task(self._run_sender(chat, item), name="outbox-send")
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)

    async def _next_chat(self) -> Address | None:
        while not self._stopping:
            self._wake.clear()
            if not self._heap:
                await self._wait(self._wake, None)
                continue
            ready_at, _, head = self._heap[0]
            now = self.clock()
            if ready_at > now:
                await self._wait(self._wake, ready_at - now)
                continue
            # A person or a room waiting on a turn jumps the pacing buckets (a
            # broadcast yields to people, never the reverse); the platform's strict
            # windows still hold for it at the moment it leaves (``_cleared``).
            urgent = self._urgent(head)
            overall = 0.0 if urgent else self.gate.overall_wait()
            if overall > 0:
                await self._wait(self._wake, overall)
                continue
            _, _, chat = heapq.heappop(self._heap)
            self._scheduled.discard(chat)
            if chat in self._busy or not self._queues.get(chat):
                continue
            wait = 0.0 if urgent else self.gate.chat_wait(chat)
            if wait > 0:
                self._scheduled.add(chat)
                heapq.heappush(self._heap, (now + wait, next(self._seq), chat))
                continue
            return chat
        return None

    def _urgent(self, chat: Address) -> bool:
        queue = self._queues.get(chat)
        return queue is not None and len(queue) > 0 and queue[0].priority == 0

    async def _wait(self, event: asyncio.Event, seconds: float | None) -> None:
        """Until ``event`` is set or ``seconds`` pass (on the injected clock)."""
        if seconds is None:
            await event.wait()
            return
        waiter = asyncio.ensure_future(event.wait())
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()

    # ---------------------------------------------------------------- senders
    def _run_of(self, chat: Address, item: OutboxItem) -> list[OutboxItem]:
        """``item`` and, if it is for a person or a room, the chat's next such messages.

        Messages to people and rooms are marked together in one commit and then
        sent one after another: a chat that has many at once (a triage room when
        many defenders confirm together) costs one commit, not one per message.
        They are delivered at least once anyway, so marking a few before they
        leave changes only what a crash may repeat (with ``MAY_REPEAT``).
        Broadcast messages are marked one by one (never repeated on Telegram).
        """
        run = [item]
        queue = self._queues.get(chat)
        while (
            item.priority == 0
            and queue
            and queue[0].priority == 0
            and len(run) < self.policy.run_length
        ):
            run.append(queue.popleft())
        if queue is not None and not queue:
            del self._queues[chat]
        return run

    async def _run_sender(self, chat: Address, item: OutboxItem) -> None:
        run = self._run_of(chat, item)
        back: list[OutboxItem] = []  # still pending and ours: tried again, in order
        delay = 1.0
        try:
            # The request slot first, then the mark: a row is "sending" only while a
            # request can actually leave, so a crash leaves at most ``concurrency``
            # runs in flight (uncertain), never ones that were still waiting. The
            # platform's windows are checked before the mark (so a mark is not left
            # waiting) and again before each request (the commit took time; strict
            # windows).
            async with self._slots:
                await self._cleared(chat)
                try:
                    marks = await asyncio.gather(*(self.journal.start(i.id) for i in run))
                except JournalUnavailable:
                    marks, back = [], run
                marked = [i for i, ok in zip(run, marks, strict=False) if ok]
                for index, current in enumerate(marked):
                    outcome, retry = await self._send_one(chat, current)
                    if retry is not None:
                        # Not sent now: it and the rest of the run go back, in order;
                        # the rest were marked, so they are made pending again.
                        back = [retry, *marked[index + 1 :]]
                        delay = self._seconds_until(outcome)
                        for later in marked[index + 1 :]:
                            self.journal.finish(
                                replace(outcome, item_id=later.id, error=later.last_error)
                            )
                        break
        finally:
            self._busy.discard(chat)
            self._queued.release()
            kept = {item.id for item in back}  # (a retry is a new record of the same row)
            for done in run:
                if done.id not in kept:
                    self._held.discard(done.id)
            if back:  # storage trouble, or a retry: the rows are still pending and ours
                self._queues.setdefault(chat, deque()).extendleft(reversed(back))
                self._schedule(chat, self.clock() + delay)
            else:
                self._schedule(chat, self.clock())
            if len(self._held) <= self.policy.batch // 2:
                self._hungry.set()
            self._wake.set()

    async def _send_one(self, chat: Address, item: OutboxItem) -> tuple[Outcome, OutboxItem | None]:
        """Send one marked row; its outcome, and the row to try again if it is one."""
        await self._cleared(chat)
        flight = self.gate.leave(chat)
        try:
            outcome = await self._deliver(chat, item)
        finally:
            self.gate.answered(flight)
        self.journal.finish(outcome)
        if outcome.status == SENT:
            self.sent += 1
        elif outcome.status in (FAILED, INACTIVE) and item.kind == "question":
            await self._undeliverable(item)
        elif outcome.status == PENDING and outcome.retry_at is not None:
            # Tried again from here, before the chat's later messages: order kept.
            return outcome, replace(item, attempts=item.attempts + 1, last_error=outcome.error)
        return outcome, None

    def _seconds_until(self, outcome: Outcome) -> float:
        assert outcome.retry_at is not None
        return max(0.0, (outcome.retry_at - self.services.clock.now()).total_seconds())

    async def _cleared(self, chat: Address) -> None:
        """Until the platform's windows let a request to ``chat`` leave now.

        Checked with a request slot held, before the mark and again after it:
        the platform counts when requests arrive, so a check made only before a
        slow commit would let requests bunch up behind it.
        """
        while (wait := self.gate.send_wait(chat)) > 0:
            await self.sleep(wait)

    async def _deliver(self, chat: Address, item: OutboxItem) -> Outcome:
        # What the transport adds itself (Matrix's "answer with the number") in the
        # destination's language; each sender is a task of its own, so this stays here.
        language = item.language or self.services.settings.default_language
        current_language.set(language)
        if item.last_error == MAY_HAVE_ARRIVED and not self.policy.idempotent and item.body:
            item = replace(item, body=render(language, MAY_REPEAT) + "\n" + item.body)
        try:
            sent = await send_item(self.services.hub, chat, item)
        except DestinationGone:
            if item.kind in AT_LEAST_ONCE or self.services.settings.is_advisory_room(chat):
                # An advisory room the bot was removed from (a 403) can take it back:
                # a case card or an alarm is retried, never given up as "gone"; any
                # other message to the room (a defender's answer, a notice) is
                # retried like any transient failure, and never marks the room gone.
                return self._retry(item, self._backoff(item), "destination_gone")
            await self._gone(item)
            return Outcome(item.id, INACTIVE, error="destination_gone")
        except RateLimited as exc:
            self.gate.penalise(chat, exc.retry_after)
            return self._retry(item, exc.retry_after, "rate_limited", limited=True)
        except DeliveryUncertain:
            if self.policy.idempotent or item.priority == 0:
                return self._retry(item, self._backoff(item), MAY_HAVE_ARRIVED)
            return Outcome(item.id, UNCERTAIN, error=MAY_HAVE_ARRIVED)
        except TransientSendError:
            return self._retry(item, self._backoff(item), "transient")
        except Exception as exc:  # a refusal we do not know: give up on this one
            log.warning("outbox send refused: %s", type(exc).__name__)
            return Outcome(item.id, FAILED, error=type(exc).__name__)
        if item.kind == "card" and sent is not None:
            # Not awaited: the chat's next card must not wait for this write (which
            # waits for the database behind the turns); if it is lost, only the
            # reply-to-card shorthand misses this card (/ack C-… still works).
            task = asyncio.create_task(self._remember_card(item, sent.message_id))
            self._remembering.add(task)
            task.add_done_callback(self._remembering.discard)
        return Outcome(item.id, SENT, remote_id=sent.message_id if sent else None, kind=item.kind)

    async def _undeliverable(self, item: OutboxItem) -> None:
        """A message from the advisory group did not reach the defender: the rooms hear it."""
        services = self.services
        try:
            await services.db.run(lambda: relay.undeliverable(services, item.ref))
        except Exception as exc:
            log.error("undeliverable notice not queued: %s", type(exc).__name__)

    async def _remember_card(self, item: OutboxItem, message_id: str) -> None:
        """So that an advisor's reply to the card finds its case."""
        try:
            await self.services.db.cases.record_card(item.ref, item.address, message_id)
        except Exception as exc:
            log.error("case card not remembered: %s", type(exc).__name__)

    async def _gone(self, item: OutboxItem) -> None:
        try:
            await self.services.db.members.mark_group_inactive(item.address)
        except Exception as exc:
            log.error("marking a member group inactive failed: %s", type(exc).__name__)

    def _backoff(self, item: OutboxItem) -> float:
        return float(
            min(self.policy.backoff_cap, self.policy.backoff * 2.0 ** max(0, item.attempts - 1))
        )

    def _retry(self, item: OutboxItem, delay: float, error: str, limited: bool = False) -> Outcome:
        limit = self.policy.rate_limited_attempts if limited else self.policy.max_attempts
        if item.attempts >= limit and item.kind not in AT_LEAST_ONCE:
            return Outcome(item.id, FAILED, error=f"{error}_gave_up")
        seconds = max(0.0, delay) if math.isfinite(delay) else self.policy.backoff_cap
        at = self.services.clock.now() + timedelta(seconds=seconds)
        return Outcome(item.id, PENDING, error=error, retry_at=at)

    # ------------------------------------------------------------------- stop
    def stop(self) -> None:
        """Take no new messages; senders in flight finish (``drain``)."""
        self._stopping = True
        self._wake.set()
        self._hungry.set()
        self._stopped.set()

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for sends in flight; cancel the rest (returns how many)."""
        senders = set(self._senders) | set(self._remembering)
        if senders:
            await asyncio.wait(senders, timeout=grace)
        late = [task for task in senders if not task.done()]
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
        return len(late)

    def cancel_senders(self) -> None:
        """A crash, as far as this process can make one: senders stop wherever they are."""
        for task in list(self._senders):
            task.cancel()
