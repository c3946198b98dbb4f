"""Replays: re-send the current state of identities to one subscriber, resumably and throttled.

A job walks identity ids upwards from its cursor; each step is one transaction that first takes
the job's row (the write lock on SQLite, a row lock on PostgreSQL), locks the batch's identity
rows, and writes one A31 outbox row per identity with its *current* snapshot. Because a live
change also locks its identity and writes its row in the same transaction, the replay row and the
live rows of an identity are strictly ordered by outbox id, and the relay keeps that order.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.replays import ReplayJob
from app.domain.roles import Role, require_any
from app.domain.snapshot import identity_snapshot
from app.services.context import Actor, ServiceContext
from app.services.errors import InvalidRequest, NotFound

REPLAYER = Actor("job:replay", frozenset(), kind="job")  # writes no audit row


def start_replay(
    ctx: ServiceContext,
    actor: Actor,
    subscriber_id: int,
    *,
    identity_id: int | None = None,
    from_at: datetime | None = None,
    to_at: datetime | None = None,
    rate: float = 2000.0,
) -> ReplayJob:
    """Operations: replay one identity, or the identities changed in a time range, to a subscriber."""
    require_any(actor.roles, Role.ADMIN)
    scope = "identity" if identity_id is not None else "range"
    # A time without an offset is UTC (the stored times are): an aware and a naive time compare.
    from_at, to_at = (t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t
                      for t in (from_at, to_at))
    if scope == "range" and (from_at is None or to_at is None):
        raise InvalidRequest("replay-range-incomplete", field="to_at" if from_at else "from_at")
    if scope == "range" and from_at is not None and to_at is not None and from_at > to_at:
        raise InvalidRequest("replay-range-reversed", field="from_at")
    with ctx.unit_of_work(actor) as uow:
        if uow.subscribers.get(subscriber_id) is None:
            raise NotFound(what="Subscriber", ident=subscriber_id)
        if identity_id is not None and uow.identities.get(identity_id, for_update=False) is None:
            raise NotFound(what="Identity", ident=identity_id)  # was an integrity error (500)
        job = uow.replays.create(
            subscriber_id, scope, ctx.now(), rate, identity_id=identity_id, from_at=from_at, to_at=to_at
        )
        uow.audit(
            "subscriber.replay",
            identity_id,
            None,
            {"subscriber_id": subscriber_id, "job": job.id, "scope": scope},
            full=True,
        )
        uow.commit()
    return job


def replay_progress(ctx: ServiceContext, actor: Actor, subscriber_id: int) -> list[ReplayJob]:
    """The subscriber's replay jobs, newest first, with their progress."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.reading() as reader:
        return reader.replays.of_subscriber(subscriber_id)


def running_jobs(ctx: ServiceContext) -> list[int]:
    """Ids of the jobs still to run (oldest first)."""
    with ctx.reading() as reader:
        return reader.replays.running()


def replay_step(ctx: ServiceContext, job_id: int, limit: int) -> int:
    """Enqueue the next ``limit`` identities of a job; returns how many (0 = the job is done)."""
    with ctx.unit_of_work(REPLAYER) as uow:
        now = ctx.now()
        job = uow.replays.take(job_id, now)
        if job is None:
            return 0
        subscriber = uow.subscribers.get(job.subscriber_id)
        assert subscriber is not None
        ids = uow.replays.next_identities(job, limit)
        identities = uow.identities.get_many(ids, for_update=True)
        documents = uow.documents.latest(ids)
        items = [
            (identity.id, "A31", identity_snapshot(identity, None, documents.get(identity.id)))
            for identity in identities
        ]
        uow.outbox.enqueue(subscriber, items, now, kind="replay")
        cursor = ids[-1] if ids else job.cursor
        uow.replays.advance(job, cursor, len(identities), now, finished=len(ids) < limit)
        uow.commit()
    return len(identities)
