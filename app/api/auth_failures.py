"""Failed authentications: counted by reason for /metrics, and limited per client address.

A client address that presented ``limit`` refused tokens within ``window`` seconds gets 429 (with
Retry-After) on every request that needs a token until the oldest of those failures leaves the
window. Requests without any Authorization header are counted (reason ``missing``) but do not
count towards the limit: guessing needs a token. The state lives in this process's memory, so the
limit holds per API process (docs/security.md).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict, deque

from app.domain.errors import DomainError
from app.domain.messages import register

log = logging.getLogger("identito.auth")
MAX_ADDRESSES = 10_000  # addresses tracked at once; the least recently failed are forgotten first


class TooManyFailures(DomainError):
    """Too many refused tokens from this client address (HTTP 429)."""

    code = "too-many-auth-failures"

    @property
    def retry_after(self) -> int:
        """Seconds until a new attempt is accepted."""
        return int(self.params.get("seconds", 1))


register(
    "too-many-auth-failures",
    "Too many failed authentications from this address: try again in {seconds} s.",
    "Trop d'authentifications refusées depuis cette adresse : réessayez dans {seconds} s.",
)


class FailureLimiter:
    """Sliding-window count of refused tokens per client address, and totals by reason."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit, self.window = limit, window_seconds
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self.by_reason: dict[str, int] = defaultdict(int)
        self.limited = 0

    def check(self, address: str) -> None:
        """Raise TooManyFailures while this address is over the limit."""
        if self.limit <= 0:
            return
        now = time.monotonic()
        with self._lock:
            recent = self._recent.get(address)
            if recent is None:
                return
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) < self.limit:
                return
            self.limited += 1
            wait = recent[0] + self.window - now
        raise TooManyFailures(seconds=max(1, math.ceil(wait)))

    def record(self, address: str, reason: str) -> None:
        """Count one refusal; one with a token presented counts towards the address's limit."""
        with self._lock:
            self.by_reason[reason] += 1
            if self.limit <= 0 or reason == "missing":
                return
            recent = self._recent.pop(address, None) or deque()
            recent.append(time.monotonic())
            while len(recent) > self.limit:
                recent.popleft()
            self._recent[address] = recent  # re-inserted last: dict order = least recent first
            if len(recent) == self.limit and recent[0] > time.monotonic() - self.window:
                log.warning("authentication refused %d times within %.0f s from %s (last: %s): "
                            "429 until the window frees", self.limit, self.window, address, reason)
            if len(self._recent) > MAX_ADDRESSES:
                del self._recent[next(iter(self._recent))]

    def render(self) -> list[str]:
        """Prometheus lines (a /metrics collector)."""
        with self._lock:
            counts, limited = sorted(self.by_reason.items()), self.limited
        lines = ["# HELP identito_auth_failures_total Requests refused with 401, by reason.",
                 "# TYPE identito_auth_failures_total counter"]
        lines += [f'identito_auth_failures_total{{reason="{reason}"}} {count}' for reason, count in counts]
        lines += ["# HELP identito_auth_rate_limited_total Requests refused with 429 after too many "
                  "failed authentications from their address.",
                  "# TYPE identito_auth_rate_limited_total counter",
                  f"identito_auth_rate_limited_total {limited}"]
        return lines
