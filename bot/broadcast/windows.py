"""Strict sliding windows: never more than ``limit`` requests in any ``span`` seconds.

Telegram does not publish how it counts its limits. A token bucket that
starts full, or starts full again after a restart, lets a one-second window
hold its burst on top of its rate; only a limiter that keeps every window
under the limit can promise that no request is refused.

The platform counts a request when it arrives, which the bot cannot see:
it only knows that the request arrived after it left and before its answer
came back. So a window keeps, for each request, the moment its answer came
(``Flight.answered``; not yet known while it is in flight), and lets a new
request leave only when every request but the last ``limit - 1`` was
answered at least ``span`` seconds ago. Requests that leave in a bunch
after a stall, or answers that come late, then cannot put ``limit + 1``
arrivals into one window, whatever the network does; the price is one
round trip per window (30 in 1.02 s when answers take 20 ms).

A window can be loaded with what an earlier process sent (``remember``,
with the moment its outcome was written: after its answer came).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from bot.broadcast.buckets import Monotonic

ROUNDING = 1e-6
IN_FLIGHT_POLL = 0.005
"""Seconds between looks while the request that decides the wait is still in flight."""


class Flight:
    """One request counted by windows: when it left, and when its answer came."""

    __slots__ = ("answered", "left")

    def __init__(self, left: float, answered: float = math.inf) -> None:
        self.left = left
        self.answered = answered


class SlidingWindow:
    def __init__(self, limit: int, span: float, clock: Monotonic) -> None:
        if limit < 1 or span <= 0:
            raise ValueError("a window needs room for one request and a positive span")
        self.limit = limit
        self.span = span
        self.clock = clock
        self._flights: list[Flight] = []
        self._paused_until = -math.inf

    def _forget(self, now: float) -> None:
        # A request answered a span ago arrived before any window still to come.
        if self._flights and min(f.answered for f in self._flights) <= now - self.span:
            self._flights = [f for f in self._flights if f.answered > now - self.span]

    def wait(self) -> float:
        """Seconds until one more request keeps every window within the limit."""
        now = self.clock()
        self._forget(now)
        paused = self._paused_until - now
        if len(self._flights) < self.limit:
            return max(0.0, paused)
        # When the limit-th latest answer is a span old, only limit - 1 can share a window.
        answered = sorted((f.answered for f in self._flights), reverse=True)[self.limit - 1]
        if math.isinf(answered):
            return max(IN_FLIGHT_POLL, paused)
        wait = answered + self.span - now
        # A hair past the boundary, so that float rounding cannot land a send on it.
        return max(0.0, paused, wait + ROUNDING if wait > 0 else wait)

    def add(self, flight: Flight) -> None:
        """Count ``flight`` (leaving now, or loaded from an earlier process)."""
        self._flights.append(flight)
        self._forget(self.clock())

    def pause(self, seconds: float) -> None:
        """The platform refused a request: nothing more for ``seconds``."""
        self._paused_until = max(self._paused_until, self.clock() + max(0.0, seconds))

    def idle(self) -> bool:
        """Empty and not paused: forgetting this window changes nothing."""
        now = self.clock()
        self._forget(now)
        return not self._flights and now >= self._paused_until

    def __len__(self) -> int:
        self._forget(self.clock())
        return len(self._flights)


class Windows:
    """Several windows that must all allow a request (a group's minute and its seconds)."""

    def __init__(self, *windows: SlidingWindow) -> None:
        self.windows = windows

    def wait(self) -> float:
        return max(window.wait() for window in self.windows)

    def add(self, flight: Flight) -> None:
        for window in self.windows:
            window.add(flight)

    def pause(self, seconds: float) -> None:
        for window in self.windows:
            window.pause(seconds)

    def idle(self) -> bool:
        return all(window.idle() for window in self.windows)


class KeyedWindows:
    """Windows per key (a chat), made on first use and forgotten when idle."""

    def __init__(self, make: Callable[[int], Windows], prune_every: int = 1000) -> None:
        self._make = make
        self._windows: dict[int, Windows] = {}
        self._prune_every = prune_every
        self._made = 0

    def get(self, key: int) -> Windows:
        windows = self._windows.get(key)
        if windows is None:
            self._made += 1
            if self._made % self._prune_every == 0:
                self.prune()
            windows = self._windows[key] = self._make(key)
        return windows

    def prune(self) -> None:
        for key in [k for k, windows in self._windows.items() if windows.idle()]:
            del self._windows[key]

    def __len__(self) -> int:
        return len(self._windows)
