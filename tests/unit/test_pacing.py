"""Rate limiter, backoff and circuit breaker, against a fake clock."""

from __future__ import annotations

import bisect
import threading

from hypothesis import given
from hypothesis import strategies as st

from app.workers.pacing import MARGIN, CircuitBreaker, RateLimiter, backoff_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _starts(rate: float, calls: int) -> list[float]:
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(calls):
        limiter.acquire()
        starts.append(clock.now)
    return starts


def _max_in_any_window(starts: list[float]) -> int:
    return max(bisect.bisect_left(starts, s + 1.0) - i for i, s in enumerate(starts))


@given(st.integers(1, 200), st.integers(2, 400))
def test_never_more_than_rate_in_any_one_second_window(rate: int, calls: int) -> None:
    starts = _starts(rate, calls)
    assert _max_in_any_window(starts) <= rate


def test_achieved_rate_is_close_to_the_limit() -> None:
    for rate in (1, 5, 20, 100):
        starts = _starts(rate, rate * 10 + 1)
        achieved = (len(starts) - 1) / (starts[-1] - starts[0])
        assert 0.95 * rate <= achieved <= rate


def test_slow_rate_below_one_per_second() -> None:
    starts = _starts(0.5, 4)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(2.0 <= gap <= 2.01 for gap in gaps)


def test_unlimited() -> None:
    assert _starts(0, 50) == [0.0] * 50


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_seconds(1, rand=lambda: 1.0) == 0.5
    assert backoff_seconds(4, rand=lambda: 1.0) == 4.0
    assert backoff_seconds(30, rand=lambda: 1.0) == 30.0
    assert backoff_seconds(3, rand=lambda: 0.0) == 1.0


def test_circuit_opens_after_consecutive_failures_and_half_opens() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    breaker.failure()
    breaker.success()
    for _ in range(2):
        breaker.failure()
    assert breaker.wait_seconds() == 0
    breaker.failure()
    assert breaker.is_open and breaker.wait_seconds() == 10
    clock.now = 10.5
    assert breaker.wait_seconds() == 0  # this caller makes the trial call
    assert breaker.wait_seconds() > 0  # others wait for its result
    breaker.failure()
    assert breaker.is_open
    clock.now = 21
    assert breaker.wait_seconds() == 0
    breaker.success()
    assert not breaker.is_open and breaker.wait_seconds() == 0


def test_deciding_whether_to_claim_never_takes_the_trial_call() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.failure()
    assert breaker.blocked_seconds() == 10
    clock.now = 10.5
    assert breaker.blocked_seconds() == 0 and breaker.blocked_seconds() == 0
    assert breaker.wait_seconds() == 0  # the trial is still there for a caller about to call
    assert breaker.blocked_seconds() > 0


def test_a_trial_not_made_is_given_to_another_caller_by_its_holder_only() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    breaker.failure()
    clock.now = 10.5
    assert breaker.wait_seconds() == 0
    other = threading.Thread(target=breaker.cancel_trial)
    other.start()
    other.join()
    assert breaker.wait_seconds() > 0  # another thread cannot cancel this thread's trial
    breaker.cancel_trial()
    assert breaker.wait_seconds() == 0


def test_a_cancelled_wait_for_the_rate_limiter_records_no_start() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock, sleep=clock.sleep)
    assert limiter.acquire(lambda: False)
    assert not limiter.acquire(lambda: True) and clock.now == 0.0  # gives up without waiting
    assert list(limiter._starts) == [0.0]
    assert limiter.acquire(lambda: False) and 1.0 + MARGIN <= clock.now < 1.2
