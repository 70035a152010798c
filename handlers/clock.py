"""The injected clock.

Every piece of code that asks "what time is it" asks a ``Clock``. Production
uses ``SystemClock``; tests and the demo use ``FakeClock`` and move time
forward explicitly, so nothing ever sleeps to wait for a deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to.

    Listeners registered with ``on_advance`` run after each move; the
    scheduler uses this to fire jobs whose time has come.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._listeners: list[Callable[[], object]] = []

    def now(self) -> datetime:
        return self._now

    def on_advance(self, listener: Callable[[], object]) -> None:
        self._listeners.append(listener)

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("time does not run backwards")
        self._now += delta
        for listener in list(self._listeners):
            listener()
