"""Each platform's rate limits as the dispatcher's lanes see them.

A ``Gate`` answers a lane three questions — how long until the scheduler
may plan the next send at all (``overall_wait``), and to this chat
(``chat_wait``); and, right before a request leaves, how long until it may
leave (``send_wait``) — and is told when a send is planned (``take``),
when its request leaves (``leave``) and its answer comes (``answered``),
when the platform refused one (``penalise``), and at start what was sent
in the last minute (``remember``).

Telegram (``TelegramGate``) publishes its limits: about 30 messages a second
per bot, 20 a minute per group, about one a second per chat. It does not
say how it counts them, so the gate keeps them as strict sliding windows
(``windows.SlidingWindow``): never more than 30 in any second, 20 in any
minute to one group, 3 in any 3 seconds to one chat, counted by when each
answer came back (see ``windows``). The windows are checked when a request
leaves, after its "sending" mark is committed, so a slow commit cannot
bunch requests up; a token bucket with a small burst paces the scheduler
at the windows' rate, so marks are never made far ahead of their send. At start the windows are
loaded from the outbox's record of the last minute: a restart never starts
with a full allowance. The same gate is handed to the Telegram messenger,
whose other requests (replies to people, card posts, progress edits) wait
for the same windows.

Matrix (``MatrixGate``) has no published per-room limits; Synapse limits
messages per sender. One adaptive bucket starts at a generous rate and
finds the server's by ``M_LIMIT_EXCEEDED`` answers (``retry_after_ms``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from bot.broadcast.buckets import EPSILON, Monotonic, Sleep, TokenBucket
from bot.broadcast.windows import Flight, KeyedWindows, SlidingWindow, Windows
from handlers.messages import Address

PACE_BURST = 10.0  # the scheduler catches up after a stall (a third of a second); windows rule
CHAT_BURST = 3  # "about one a second" to one chat: at most 3 in any 3 seconds
OVERALL_PAUSE_CAP = 1.0  # a 429 for one chat pauses the others this long at most


class Gate(Protocol):
    def overall_wait(self) -> float:
        """Seconds until the scheduler may plan any send."""
        ...

    def chat_wait(self, chat: Address) -> float:
        """Seconds until a send to ``chat`` may leave (its own limit only)."""
        ...

    def take(self, chat: Address) -> None:
        """A send to ``chat`` is planned now."""
        ...

    def send_wait(self, chat: Address) -> float:
        """Seconds until a request to ``chat`` may leave (0: now)."""
        ...

    def leave(self, chat: Address) -> Flight:
        """A request to ``chat`` leaves now: count it until ``answered``."""
        ...

    def answered(self, flight: Flight) -> None:
        """The request's answer came (or it failed): its window can close."""
        ...

    def penalise(self, chat: Address, retry_after: float) -> None:
        """The platform refused a send to ``chat`` for ``retry_after`` seconds."""
        ...

    def remember(self, chat: Address | None, at: float) -> None:
        """A send to ``chat`` left at ``at`` (an earlier process's, loaded at start;
        ``chat`` None: erased since, it counts against the overall limit only)."""
        ...


class TelegramGate:
    """Strict windows overall, per group and per chat; also the messenger's ``FloodGate``."""

    def __init__(
        self,
        messages_per_second: float = 30.0,
        group_messages_per_minute: float = 20.0,
        private_messages_per_second: float = 1.0,
        clock: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.overall = SlidingWindow(max(1, int(messages_per_second)), 1.0, clock)
        self.pacer = TokenBucket(
            self.overall.limit / self.overall.span, PACE_BURST, clock, decrease=0.8
        )
        chat_span = CHAT_BURST / private_messages_per_second
        group_limit = max(1, int(group_messages_per_minute))
        self._chats = KeyedWindows(
            lambda chat_id: (
                Windows(
                    SlidingWindow(CHAT_BURST, chat_span, clock),
                    SlidingWindow(group_limit, 60.0, clock),
                )
                if chat_id < 0  # groups, supergroups and channels have negative ids
                else Windows(SlidingWindow(CHAT_BURST, chat_span, clock))
            )
        )

    def chat_windows(self, chat_id: int) -> Windows:
        return self._chats.get(chat_id)

    # ------------------------------------------------------------ Gate (lanes)
    def overall_wait(self) -> float:
        return max(self.pacer.wait_time(), self.overall.wait())

    def chat_wait(self, chat: Address) -> float:
        return self.chat_windows(int(chat.id)).wait()

    def take(self, chat: Address) -> None:
        self.pacer.take()

    def send_wait(self, chat: Address) -> float:
        return max(self.overall.wait(), self.chat_windows(int(chat.id)).wait())

    def leave(self, chat: Address) -> Flight:
        return self._leave(int(chat.id))

    def answered(self, flight: Flight) -> None:
        flight.answered = self.clock()

    def penalise(self, chat: Address, retry_after: float) -> None:
        self.refused(int(chat.id), retry_after)

    def remember(self, chat: Address | None, at: float) -> None:
        flight = Flight(at, at)
        self.overall.add(flight)
        if chat is not None:
            self.chat_windows(int(chat.id)).add(flight)

    # ------------------------------------------------- FloodGate (messenger)
    async def wait_to_send(self, chat_id: int) -> Flight:
        """Wait until a request to ``chat_id`` may leave; count it until ``answered``."""
        windows = self.chat_windows(chat_id)
        while (wait := max(self.overall.wait(), windows.wait())) > EPSILON:
            await self.sleep(wait)
        return self._leave(chat_id)

    def refused(self, chat_id: int, retry_after: float) -> None:
        # Telegram does not say which limit was hit. The chat waits what it was told;
        # the others pause briefly, and the scheduler slows down a little.
        self.chat_windows(chat_id).pause(retry_after)
        self.overall.pause(min(retry_after, OVERALL_PAUSE_CAP))
        self.pacer.penalise(min(retry_after, OVERALL_PAUSE_CAP))

    def _leave(self, chat_id: int) -> Flight:
        flight = Flight(self.clock())
        self.overall.add(flight)
        self.chat_windows(chat_id).add(flight)
        return flight


class OpenGate:
    """No limits (in-process transports, and the benchmark's raw dispatch rate)."""

    def overall_wait(self) -> float:
        return 0.0

    def chat_wait(self, chat: Address) -> float:
        return 0.0

    def take(self, chat: Address) -> None:
        pass

    def send_wait(self, chat: Address) -> float:
        return 0.0

    def leave(self, chat: Address) -> Flight:
        return Flight(0.0)

    def answered(self, flight: Flight) -> None:
        pass

    def penalise(self, chat: Address, retry_after: float) -> None:
        pass

    def remember(self, chat: Address | None, at: float) -> None:
        pass


class MatrixGate(OpenGate):
    """One adaptive bucket for everything the bot sends (Synapse limits per sender).

    No per-chat limits: everything but the overall bucket is the open gate's.
    """

    def __init__(
        self, rate: float = 20.0, capacity: float = 10.0, clock: Monotonic = time.monotonic
    ) -> None:
        self.overall = TokenBucket(rate, capacity, clock, decrease=0.5, min_factor=0.005)

    def overall_wait(self) -> float:
        return self.overall.wait_time()

    def take(self, chat: Address) -> None:
        self.overall.take()

    def penalise(self, chat: Address, retry_after: float) -> None:
        self.overall.penalise(retry_after)
