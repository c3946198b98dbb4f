"""Leases of the campaign items a runner holds: renewed by a heartbeat, checked before each call.

An item in flight belongs to the runner that claimed it until that runner writes its outcome or puts
it back to pending, or until its lease runs out (``campaign_lease_seconds`` after the last renewal
written in ``claimed_at``), when any runner may close it ``interrupted``. A live runner renews every
item it holds each quarter of the lease, in one statement, whatever the item is waiting for (a call
slot, the rate limiter, the circuit breaker, a backoff, INSi itself): only the items of a dead or
frozen runner expire. Renewal touches only items still in flight, which tells the runner which ones
it lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.services import campaigns
from app.services.context import ServiceContext

log = logging.getLogger("identito.campaigns")


@dataclass
class Lease:
    """One held item: when its lease was last renewed (monotonic clock) and whether it was lost."""

    item_id: int
    renewed: float
    lost: bool = False


class Leases:
    """The items one runner holds."""

    def __init__(self, ctx: ServiceContext, seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx, self.seconds, self.clock = ctx, seconds, clock
        self._held: dict[int, Lease] = {}
        self._lock = threading.Lock()

    def hold(self, item_id: int, renewed: float) -> Lease:
        """Register an item just claimed (``renewed``: clock reading taken before the claim)."""
        lease = Lease(item_id, renewed)
        with self._lock:
            self._held[item_id] = lease
        return lease

    def drop(self, lease: Lease) -> None:
        """The item is no longer held (outcome written, back to pending, or lost)."""
        with self._lock:
            self._held.pop(lease.item_id, None)

    def renew(self, leases: list[Lease] | None = None) -> None:
        """Renew these leases (every held one by default); mark those no longer in flight as lost."""
        if leases is None:
            with self._lock:
                leases = list(self._held.values())
        leases = [lease for lease in leases if not lease.lost]
        if not leases:
            return
        started = self.clock()
        kept = campaigns.renew_leases(self.ctx, [lease.item_id for lease in leases])
        for lease in leases:
            if lease.item_id in kept:
                lease.renewed = max(lease.renewed, started)
            else:
                lease.lost = True
                log.warning("campaign item %s: lease lost (closed by another runner)", lease.item_id)

    def valid(self, lease: Lease) -> bool:
        """Whether the item is still this runner's to call INSi for (renewed first if half expired)."""
        if not lease.lost and self.clock() - lease.renewed > self.seconds / 2:
            self.renew([lease])
        return not lease.lost

    def count_attempt(self, lease: Lease, attempts: int) -> bool:
        """Record the item's next attempt, renewing its lease; False (lost) if it is no longer ours."""
        started = self.clock()
        kept = campaigns.count_attempt(self.ctx, lease.item_id, attempts)
        if kept:
            lease.renewed = max(lease.renewed, started)
        else:
            lease.lost = True
        return kept

    def release(self, lease: Lease, calls_made: int) -> None:
        """Put a held item back to pending with the calls it had (nothing if the lease was lost)."""
        if not lease.lost:
            campaigns.hand_back_item(self.ctx, lease.item_id, calls_made)

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew every held lease each quarter of the lease from a thread, while the block runs."""
        done = threading.Event()
        thread = threading.Thread(target=self._beat, args=(done,), name="campaign-leases", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _beat(self, done: threading.Event) -> None:
        while not done.wait(self.seconds / 4):
            try:
                self.renew()
            except Exception as exc:  # a beat that failed: the next retries (the lease has margin for a few)
                log.warning("campaign leases not renewed: %s", type(exc).__name__)
