"""The relay's use cases: claim stream heads, record delivery outcomes, give leases back.

The relay (``app.workers.relay``) sends what it claims over MLLP; each call here is one short
transaction of its loop (the statements of ``app.db.outbox.OutboxRepository``, unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from app.db.outbox import Claimed, Failure, RetryPolicy
from app.db.subscribers import Subscriber
from app.domain.roles import Actor
from app.services.context import ServiceContext

__all__ = [
    "Claimed", "Failure", "RetryPolicy", "Subscriber",
    "claim", "recipients", "record", "release_leases", "release_stale_leases",
]


def _relay(relay_id: str) -> Actor:
    return Actor(f"relay:{relay_id}", frozenset(), kind="job")  # writes no audit row


def claim(
    ctx: ServiceContext, relay_id: str, now: datetime, limit: int, lease_seconds: float
) -> list[Claimed]:
    """Lease up to ``limit`` stream heads to this relay (see ``OutboxRepository.claim``)."""
    with ctx.unit_of_work(_relay(relay_id)) as uow:
        claimed = uow.outbox.claim(relay_id, now, limit, lease_seconds)
        uow.commit()
    return claimed


def recipients(ctx: ServiceContext, subscriber_ids: Iterable[int]) -> dict[int, Subscriber]:
    """The subscribers of claimed rows (where and how to send them)."""
    with ctx.reading() as reader:
        return reader.subscribers.get_many(subscriber_ids)


def record(
    ctx: ServiceContext, relay_id: str, now: datetime, policy: RetryPolicy, *, done: Sequence[int],
    given_back: Sequence[int], failures: Sequence[Failure],
) -> list[int]:
    """Record one cycle's outcomes in one transaction; returns the ids that became dead letters."""
    with ctx.unit_of_work(_relay(relay_id)) as uow:
        uow.outbox.mark_done(done, relay_id, now)
        uow.outbox.give_back(given_back, relay_id)
        dead = uow.outbox.mark_failed(failures, relay_id, now, policy)
        uow.commit()
    return dead


def release_stale_leases(ctx: ServiceContext, relay_id: str) -> int:
    """A relay starts: give back the leases no relay can still hold (on SQLite, its only relay's)."""
    with ctx.unit_of_work(_relay(relay_id)) as uow:
        count = uow.outbox.release_stale_leases()
        uow.commit()
    return count


def release_leases(ctx: ServiceContext, relay_id: str) -> int:
    """A relay stops: give back the rows it claimed and did not finish."""
    with ctx.unit_of_work(_relay(relay_id)) as uow:
        count = uow.outbox.release_leases(relay_id)
        uow.commit()
    return count
