"""Token buckets, sliding windows and gates on a fake clock: no real time passes."""

from __future__ import annotations

import pytest

from bot.broadcast.buckets import TokenBucket
from bot.broadcast.limits import MatrixGate, TelegramGate
from bot.broadcast.windows import IN_FLIGHT_POLL, Flight, KeyedWindows, SlidingWindow, Windows
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


def approx(expected: float) -> object:
    """Windows wait a hair (a microsecond) past their boundary."""
    return pytest.approx(expected, abs=1e-5)


def send(window: SlidingWindow, clock: FakeMonotonic, round_trip: float = 0.0) -> Flight:
    flight = Flight(clock.now, clock.now + round_trip)
    window.add(flight)
    return flight


def test_a_window_never_holds_more_than_its_limit() -> None:
    clock = FakeMonotonic()
    window = SlidingWindow(limit=3, span=1.0, clock=clock)
    for _ in range(3):
        assert window.wait() == 0
        send(window, clock)
    assert window.wait() == approx(1.0)  # no burst on top of the limit
    clock.advance(0.5)
    assert window.wait() == approx(0.5)
    clock.advance(0.5)
    assert window.wait() == 0  # the first three left the window (t - 1, t]


def test_a_window_counts_from_the_answer_and_waits_for_requests_in_flight() -> None:
    """The platform counts arrivals, somewhere between leaving and the answer."""
    clock = FakeMonotonic()
    window = SlidingWindow(limit=2, span=1.0, clock=clock)
    slow, other = Flight(clock.now), Flight(clock.now)
    window.add(slow)
    window.add(other)
    assert window.wait() == IN_FLIGHT_POLL  # both may still arrive at any moment
    clock.advance(0.3)
    other.answered = clock.now  # it arrived at the latest now
    assert window.wait() == approx(1.0)
    clock.advance(0.5)
    slow.answered = clock.now
    assert window.wait() == approx(0.5)  # the earlier answer decides
    clock.advance(0.5)
    assert window.wait() == 0


def test_a_window_loaded_with_earlier_sends_starts_with_what_is_left() -> None:
    clock = FakeMonotonic()
    window = SlidingWindow(limit=20, span=60.0, clock=clock)
    for n in range(20):
        at = clock.now - 50 + n  # an earlier process sent 20 from 50 s ago
        window.add(Flight(at, at))
    assert window.wait() == approx(10.0)  # the oldest leaves the minute then
    window.add(Flight(clock.now - 70, clock.now - 70))  # older than the window: forgotten
    assert len(window) == 20


def test_idle_chat_windows_are_forgotten() -> None:
    clock = FakeMonotonic()
    windows = KeyedWindows(lambda _key: Windows(SlidingWindow(1, 1, clock)), prune_every=10)
    for key in range(9):
        windows.get(key).add(Flight(clock.now, clock.now))
    clock.advance(10)
    windows.get(100).add(Flight(clock.now, clock.now))  # the tenth new one prunes the rest
    assert len(windows) == 1


def _send_now(gate: TelegramGate, chat: Address) -> bool:
    if gate.send_wait(chat) > 0:
        return False
    gate.answered(gate.leave(chat))
    return True


def test_telegram_gate_keeps_strict_windows_per_group_and_per_chat() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock)
    for _ in range(3):
        assert gate.chat_wait(group()) == 0
        assert _send_now(gate, group())
    assert gate.chat_wait(group()) == approx(3.0)  # about one a second: 3 in any 3 s
    for _ in range(3):
        assert _send_now(gate, person())
    assert gate.send_wait(person()) == approx(3.0)
    assert gate.chat_wait(group(2)) == 0  # other chats are not held up
    for _ in range(17):  # 20 a minute to one group
        clock.advance(gate.chat_wait(group()))
        assert _send_now(gate, group())
    # The 21st waits until the first has left its minute.
    assert gate.chat_wait(group()) == approx(1000.0 + 60.0 - clock.now)


def test_telegram_gate_never_lets_31_leave_within_a_second() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock)
    left: list[float] = []
    for n in range(100):
        while (wait := gate.send_wait(person(n))) > 0:
            clock.advance(wait)
        flight = gate.leave(person(n))
        left.append(clock.now)
        clock.advance(0.01)  # every answer takes 10 ms
        gate.answered(flight)
    assert all(left[i + 30] - left[i] >= 1.0 for i in range(len(left) - 30))
    assert left[-1] - left[0] <= 3 * 1.01 + 9 * 0.01 + 1e-5  # one round trip a window


async def test_telegram_gate_holds_the_messengers_own_requests() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock, sleep=clock.sleep)
    for _ in range(4):  # the triage room's conversation
        gate.answered(await gate.wait_to_send(int(group().id)))
    assert clock.slept == [approx(3.0)]  # the fourth waited
    assert gate.overall_wait() == 0


def test_a_429_pauses_that_chat_and_briefly_the_rest() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock)
    gate.penalise(group(), retry_after=30)
    assert gate.chat_wait(group()) == approx(30)
    assert gate.overall_wait() == approx(1.0)  # the others pause a second
    assert gate.pacer.rate() < 30  # and the scheduler slows a little
    gate.refused(int(person().id), 5)  # the messenger reports its own 429s the same way
    assert gate.chat_wait(person()) == approx(5)


def test_remembered_sends_fill_the_windows_at_start() -> None:
    clock = FakeMonotonic()
    gate = TelegramGate(30, 20, 1, clock=clock)
    for n in range(30):
        gate.remember(person(n), clock.now - 0.5)  # 30 sent by the last process 0.5 s ago
    assert gate.overall_wait() == approx(0.5)
    assert gate.send_wait(person(99)) == approx(0.5)
    gate.remember(None, clock.now)  # an erased destination counts overall only
    assert gate.chat_wait(person(100)) == 0


def test_matrix_gate_finds_the_servers_rate() -> None:
    clock = FakeMonotonic()
    gate = MatrixGate(rate=20, capacity=10, clock=clock)
    room = Address(Platform.MATRIX, "!room:example.org")
    for _ in range(10):
        gate.take(room)
    gate.penalise(room, retry_after=2.5)
    assert gate.overall_wait() == pytest.approx(2.5 + 1 / 10, rel=0.01)  # it was empty
    assert gate.chat_wait(room) == 0
