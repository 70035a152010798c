"""Each platform's rate limits as the dispatcher's lanes see them.

A ``Gate`` answers two questions for a lane — how long until the next send
may leave at all (``overall_wait``), and to this chat (``chat_wait``) — and
is told when a send leaves (``take``) and when the platform refused one
(``penalise``).

Telegram (``TelegramGate``) publishes its limits: about 30 messages a second
per bot, 20 a minute per group, about one a second per private chat (with
short bursts). The buckets' bursts are kept well under what Telegram allows,
so that network jitter never finds Telegram's own bucket empty. The same
gate is handed to the Telegram messenger, which counts every other request
(replies to people, card posts, progress edits) without waiting for it: a
broadcast yields to people, never the other way round.

Matrix (``MatrixGate``) has no published per-room limits; Synapse limits
messages per sender. One adaptive bucket starts at a generous rate and
finds the server's by ``M_LIMIT_EXCEEDED`` answers (``retry_after_ms``).
"""

from __future__ import annotations

import time
from typing import Protocol

from bot.broadcast.buckets import KeyedBuckets, Monotonic, TokenBucket
from handlers.messages import Address

OVERALL_BURST = 10.0  # catches up after a stall of a third of a second, no more
GROUP_BURST = 3.0
PRIVATE_BURST = 2.0
OVERALL_PAUSE_CAP = 1.0  # a 429 for one chat pauses the others this long at most


class Gate(Protocol):
    def overall_wait(self) -> float:
        """Seconds until any send may leave."""
        ...

    def chat_wait(self, chat: Address) -> float:
        """Seconds until a send to ``chat`` may leave (its own limit only)."""
        ...

    def take(self, chat: Address) -> None:
        """A send to ``chat`` is leaving now."""
        ...

    def penalise(self, chat: Address, retry_after: float) -> None:
        """The platform refused a send to ``chat`` for ``retry_after`` seconds."""
        ...


class TelegramGate:
    """Overall, per-group and per-private-chat buckets; also the messenger's ``FloodGate``."""

    def __init__(
        self,
        messages_per_second: float = 30.0,
        group_messages_per_minute: float = 20.0,
        private_messages_per_second: float = 1.0,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.clock = clock
        self.overall = TokenBucket(
            messages_per_second, min(OVERALL_BURST, messages_per_second), clock, decrease=0.8
        )
        group_rate = group_messages_per_minute / 60.0
        self._chats = KeyedBuckets(
            lambda chat_id: (
                TokenBucket(group_rate, GROUP_BURST, clock)
                if chat_id < 0  # groups, supergroups and channels have negative ids
                else TokenBucket(private_messages_per_second, PRIVATE_BURST, clock)
            )
        )

    def chat_bucket(self, chat_id: int) -> TokenBucket:
        return self._chats.get(chat_id)

    # ------------------------------------------------------------ Gate (lanes)
    def overall_wait(self) -> float:
        return self.overall.wait_time()

    def chat_wait(self, chat: Address) -> float:
        return self.chat_bucket(int(chat.id)).wait_time()

    def take(self, chat: Address) -> None:
        self.spend(int(chat.id))

    def penalise(self, chat: Address, retry_after: float) -> None:
        self.refused(int(chat.id), retry_after)

    # ------------------------------------------------- FloodGate (messenger)
    def spend(self, chat_id: int) -> None:
        self.overall.take()
        self.chat_bucket(chat_id).take()

    def refused(self, chat_id: int, retry_after: float) -> None:
        # Telegram does not say which limit was hit. The chat waits what it was told
        # and halves its rate; the others pause briefly and slow down a little.
        self.chat_bucket(chat_id).penalise(retry_after)
        self.overall.penalise(min(retry_after, OVERALL_PAUSE_CAP))


class MatrixGate:
    """One adaptive bucket for everything the bot sends (Synapse limits per sender)."""

    def __init__(
        self, rate: float = 20.0, capacity: float = 10.0, clock: Monotonic = time.monotonic
    ) -> None:
        self.overall = TokenBucket(rate, capacity, clock, decrease=0.5, min_factor=0.005)

    def overall_wait(self) -> float:
        return self.overall.wait_time()

    def chat_wait(self, chat: Address) -> float:
        return 0.0

    def take(self, chat: Address) -> None:
        self.overall.take()

    def penalise(self, chat: Address, retry_after: float) -> None:
        self.overall.penalise(retry_after)


class OpenGate:
    """No limits (in-process transports, and the benchmark's raw dispatch rate)."""

    def overall_wait(self) -> float:
        return 0.0

    def chat_wait(self, chat: Address) -> float:
        return 0.0

    def take(self, chat: Address) -> None:
        pass

    def penalise(self, chat: Address, retry_after: float) -> None:
        pass
