"""Token buckets with an injected clock, that slow down when the platform says so.

A bucket holds up to ``capacity`` tokens and gains ``rate`` tokens a second.
The dispatcher waits until a token is there (``wait_time``) and takes it;
sends outside the dispatcher (a person's reply) take one without waiting,
which may leave the bucket in debt: the broadcast then yields to people.

A 429 (``penalise``) pauses the bucket for the platform's ``retry_after``,
leaves it one token for then, and cuts its rate (multiplicative decrease);
the rate then climbs back linearly to the nominal one over ``recovery``
seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
EPSILON = 1e-9


class TokenBucket:
    def __init__(
        self,
        rate: float,
        capacity: float,
        clock: Monotonic = time.monotonic,
        *,
        decrease: float = 0.5,
        min_factor: float = 0.01,
        recovery: float = 60.0,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for one token")
        self.nominal = rate
        self.capacity = capacity
        self.clock = clock
        self.decrease = decrease
        self.min_factor = min_factor
        self.recovery = recovery
        self._tokens = float(capacity)
        self._updated = clock()
        self._paused_until = -math.inf
        self._cut = 1.0  # the rate factor right after the last penalty
        self._penalised_at = -math.inf

    # ----------------------------------------------------------------- state
    def rate(self) -> float:
        """The current rate: nominal, or climbing back to it after a penalty."""
        return self.nominal * self._factor(self.clock())

    def _factor(self, now: float) -> float:
        if self._cut >= 1.0:
            return 1.0
        climbed = (now - self._penalised_at) / self.recovery if self.recovery > 0 else 1.0
        factor = self._cut + (1.0 - self._cut) * max(0.0, climbed)
        if factor >= 1.0:
            self._cut = 1.0
            return 1.0
        return factor

    def _refill(self, now: float) -> None:
        start = max(self._updated, self._paused_until)
        if now > start:
            gained = (now - start) * self.nominal * self._factor(now)
            self._tokens = min(float(self.capacity), self._tokens + gained)
        self._updated = max(self._updated, now)

    @property
    def tokens(self) -> float:
        self._refill(self.clock())
        return self._tokens

    def idle(self) -> bool:
        """Full, not paused, not slowed: forgetting this bucket changes nothing."""
        now = self.clock()
        self._refill(now)
        return self._tokens >= self.capacity and now >= self._paused_until and self._cut >= 1.0

    # ------------------------------------------------------------------- use
    def wait_time(self, tokens: float = 1.0) -> float:
        """Seconds until ``tokens`` are there (0 if they are now)."""
        now = self.clock()
        self._refill(now)
        paused = max(0.0, self._paused_until - now)
        missing = tokens - self._tokens
        if missing <= EPSILON:
            return paused
        return paused + missing / (self.nominal * self._factor(now + paused))

    def take(self, tokens: float = 1.0) -> None:
        """Take tokens now, waiting or not (the bucket may go into debt)."""
        self._refill(self.clock())
        self._tokens -= tokens

    async def acquire(self, sleep: Sleep, tokens: float = 1.0) -> None:
        """Wait (with the injected ``sleep``) until ``tokens`` are there, then take them."""
        while (wait := self.wait_time(tokens)) > EPSILON:
            await sleep(wait)
        self.take(tokens)

    def penalise(self, retry_after: float, *, pause: bool = True) -> None:
        """The platform refused a send: pause for ``retry_after``, then slower.

        One token is left for the moment the pause ends (that is what
        ``retry_after`` promises), none beyond it; a debt stays a debt.
        """
        now = self.clock()
        self._refill(now)
        self._tokens = min(self._tokens, 1.0)
        if pause:
            self._paused_until = max(self._paused_until, now + max(0.0, retry_after))
            self._updated = max(self._updated, now)
        self._cut = max(self.min_factor, self._factor(now) * self.decrease)
        self._penalised_at = now
