"""Token buckets and gates on a fake clock: no real time passes."""

from __future__ import annotations

import pytest

from bot.broadcast.buckets import KeyedBuckets, TokenBucket
from bot.broadcast.limits import MatrixGate, TelegramGate
from handlers.messages import Address, Platform


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def group(n: int = 1) -> Address:
    return Address(Platform.TELEGRAM, str(-1_000_000 - n))


def person(n: int = 1) -> Address:
    return Address(Platform.TELEGRAM, str(100_000 + n))


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(rate=30, capacity=5, clock=clock)
    for _ in range(5):
        assert bucket.wait_time() == 0
        bucket.take()
    assert bucket.wait_time() == pytest.approx(1 / 30)
    clock.advance(1 / 30)
    assert bucket.wait_time() == pytest.approx(0, abs=1e-9)


def test_a_bucket_never_holds_more_than_its_capacity() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(rate=1, capacity=3, clock=clock)
    clock.advance(3600)
    assert bucket.tokens == 3


async def test_acquire_paces_to_the_rate_with_the_injected_sleep() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(rate=30, capacity=5, clock=clock)
    start = clock.now
    for _ in range(305):
        await bucket.acquire(clock.sleep)
    # 5 at once, then 300 more at 30 a second.
    assert clock.now - start == pytest.approx(10.0, rel=1e-6)


def test_sends_outside_the_dispatcher_put_the_bucket_in_debt() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(rate=1, capacity=2, clock=clock)
    for _ in range(5):
        bucket.take()  # a person's conversation never waits
    assert bucket.tokens == -3
    assert bucket.wait_time() == pytest.approx(4.0)


def test_a_429_pauses_empties_and_slows_then_the_rate_recovers() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(rate=20, capacity=5, clock=clock, decrease=0.5, recovery=60)
    bucket.penalise(retry_after=3)
    assert bucket.tokens == 1  # for the moment the pause ends
    assert bucket.rate() == pytest.approx(10)
    assert bucket.wait_time() == pytest.approx(3)
    assert bucket.wait_time(2) == pytest.approx(3 + 1 / 10, rel=0.01)  # then slower
    clock.advance(3)
    assert bucket.tokens == pytest.approx(1)  # nothing accrues during the pause
    clock.advance(27)
    assert bucket.rate() == pytest.approx(15)  # half way back
    clock.advance(30)
    assert bucket.rate() == pytest.approx(20)
    bucket.penalise(0)
    bucket.penalise(0)
    assert bucket.rate() == pytest.approx(5)  # each refusal cuts again


def test_the_rate_never_drops_below_its_floor() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(rate=10, capacity=1, clock=clock, decrease=0.1, min_factor=0.05)
    for _ in range(5):
        bucket.penalise(0)
    assert bucket.rate() == pytest.approx(0.5)


def test_bucket_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, capacity=0.5)


def test_idle_chat_buckets_are_forgotten() -> None:
    clock = FakeMonotonic()
    buckets = KeyedBuckets(lambda _key: TokenBucket(1, 1, clock), prune_every=10)
    for key in range(9):
        buckets.get(key).take()
    clock.advance(10)
    buckets.get(100).take()  # the tenth new bucket prunes the idle ones
    assert len(buckets) == 1


def test_telegram_gate_limits_groups_per_minute_and_people_per_second() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock)
    for _ in range(3):
        assert gate.chat_wait(group()) == 0
        gate.take(group())
    assert gate.chat_wait(group()) == pytest.approx(3.0)  # 20 a minute
    for _ in range(2):
        gate.take(person())
    assert gate.chat_wait(person()) == pytest.approx(1.0)
    assert gate.chat_wait(group(2)) == 0  # other chats are not held up
    assert gate.overall_wait() == 0  # 5 of the overall burst of 10 used
    for _ in range(5):
        gate.take(group(3 + _))
    assert gate.overall_wait() == pytest.approx(1 / 30)


def test_telegram_gate_counts_the_messengers_own_sends() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock)
    for _ in range(10):
        gate.spend(int(group().id))  # the triage room's conversation
    assert gate.chat_wait(group()) == pytest.approx(8 * 3.0)
    assert gate.overall_wait() == pytest.approx(1 / 30)


def test_a_429_for_one_chat_slows_that_chat_more_than_the_rest() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock)
    gate.penalise(group(), retry_after=30)
    assert gate.chat_wait(group()) == pytest.approx(30)
    assert gate.chat_bucket(int(group().id)).rate() == pytest.approx(10 / 60)  # halved
    assert gate.overall_wait() == pytest.approx(1.0)  # the others pause a second
    assert gate.overall.rate() == pytest.approx(24)  # and slow by a fifth
    gate.refused(int(person().id), 5)  # the messenger reports its own 429s the same way
    assert gate.chat_wait(person()) == pytest.approx(5)


def test_matrix_gate_finds_the_servers_rate() -> None:
    clock = FakeMonotonic()
    gate = MatrixGate(rate=20, capacity=10, clock=clock)
    room = Address(Platform.MATRIX, "!room:example.org")
    for _ in range(10):
        gate.take(room)
    gate.penalise(room, retry_after=2.5)
    assert gate.overall_wait() == pytest.approx(2.5 + 1 / 10, rel=0.01)  # it was empty
    assert gate.chat_wait(room) == 0
