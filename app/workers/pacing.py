"""Pacing of unattended INSi calls: rate limit, exponential backoff, circuit breaker.

Thread-safe and clock-injectable so that tests run them against a fake clock. The rate limiter
keeps a sliding log of call start times, so no one-second window ever holds more than the limit,
and spaces calls evenly so the limit is reached without bursts.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MARGIN = 0.002  # seconds of slack so that clock jitter never puts R + 1 starts in one window


@dataclass
class RateLimiter:
    """At most ``rate`` call starts in any one-second window (None or 0: unlimited).

    A fractional rate below 1 means one call every 1/rate seconds; above 1, the window holds at most
    floor(rate) starts, evenly spaced by 1/rate.
    """

    rate: float | None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _starts: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delay(self, now: float) -> float:
        """Seconds to wait before the next call may start (0 when it may start now)."""
        if not self.rate:
            return 0.0
        interval = 1.0 / self.rate
        capacity = max(1, int(self.rate))
        horizon = max(1.0, interval) + MARGIN
        while self._starts and now - self._starts[0] >= horizon:
            self._starts.popleft()
        wait = 0.0
        if self._starts:
            wait = max(wait, self._starts[-1] + interval - now)
        if len(self._starts) >= capacity:
            wait = max(wait, self._starts[-capacity] + horizon - now)
        return wait

    def acquire(self, cancelled: Callable[[], bool] | None = None) -> bool:
        """Block until a call may start and record its start; False if ``cancelled()`` first."""
        while True:
            with self._lock:
                now = self.clock()
                wait = self.delay(now)
                if wait <= 0:
                    self._starts.append(now)
                    return True
            if cancelled is not None and cancelled():
                return False
            self.sleep(min(wait, 0.5 if cancelled is None else 0.1))


def backoff_seconds(attempt: int, *, base: float = 0.5, cap: float = 30.0,
                    rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: attempt 1 -> up to base, doubling, capped."""
    return min(cap, base * 2 ** max(0, attempt - 1)) * (0.5 + rand() / 2)


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive transient failures; lets one trial call after ``cooldown``."""

    threshold: int = 5
    cooldown: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    _trial_running: bool = False
    _trial_thread: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_open(self) -> bool:
        """Whether calls are being refused right now."""
        with self._lock:
            return self.opened_at is not None and self.clock() - self.opened_at < self.cooldown

    def wait_seconds(self) -> float:
        """Seconds before a call may be tried (0 when closed or half-open and free)."""
        return self._wait(take_trial=True)

    def blocked_seconds(self) -> float:
        """Like ``wait_seconds`` but never takes the half-open trial (to decide whether to claim work)."""
        return self._wait(take_trial=False)

    def _wait(self, *, take_trial: bool) -> float:
        with self._lock:
            if self.opened_at is None:
                return 0.0
            remaining = self.cooldown - (self.clock() - self.opened_at)
            if remaining > 0:
                return remaining
            if self._trial_running:
                return min(1.0, self.cooldown)
            if take_trial:  # half-open: this caller makes the trial call
                self._trial_running, self._trial_thread = True, threading.get_ident()
            return 0.0

    def cancel_trial(self) -> None:
        """If this thread was given the trial call and did not make it (stopped), let another make it."""
        with self._lock:
            if self._trial_running and self._trial_thread == threading.get_ident():
                self._trial_running, self._trial_thread = False, None

    def success(self) -> None:
        """A call got an answer: close the circuit."""
        with self._lock:
            self.failures, self.opened_at, self._trial_running = 0, None, False

    def failure(self) -> None:
        """A call hit a transient failure."""
        with self._lock:
            self.failures += 1
            self._trial_running = False
            if self.failures >= self.threshold:
                self.opened_at = self.clock()
