"""The per-sender rate limit (handlers/router.py), on a clock the test moves."""

from __future__ import annotations

import pytest

from handlers.router import WINDOW, RateLimiter


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sender_gets_per_minute_messages_then_waits_for_the_window() -> None:
    ticks = Ticks()
    limiter = RateLimiter(3, ticks)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b"), "another sender has a window of their own"
    ticks.now += WINDOW
    assert limiter.would_allow("a") and limiter.allow("a")


def test_idle_senders_are_forgotten_and_a_crowd_is_swept_rarely(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = Ticks()
    limiter = RateLimiter(5, ticks)
    sweeps = 0
    sweep = limiter._prune

    def counted(now: float) -> None:
        nonlocal sweeps
        sweeps += 1
        sweep(now)

    monkeypatch.setattr(limiter, "_prune", counted)
    crowd = 3 * RateLimiter.PRUNE_AT  # an appeal's first minute: every signer is active
    assert all(limiter.allow(f"signer{n}") for n in range(crowd))
    assert sweeps <= 2, "a sweep that frees nothing waits until the map has doubled"
    ticks.now += WINDOW
    limiter.allow("late")
    assert limiter.allow("late") and sweeps <= 3
    limiter.allow("later")
    assert len(limiter._seen) <= crowd + 2
    ticks.now += WINDOW
    for n in range(2 * crowd):  # new senders; the idle crowd is dropped
        limiter.allow(f"new{n}")
    assert "signer0" not in limiter._seen
