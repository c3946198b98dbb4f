"""Replays: re-send the current state of identities to one subscriber, resumably and throttled.

A job walks identity ids upwards from its cursor; each step is one transaction that first takes
the job's row (the write lock on SQLite, a row lock on PostgreSQL), locks the batch's identity
rows, and writes one A31 outbox row per identity with its *current* snapshot. Because a live
change also locks its identity and writes its row in the same transaction, the replay row and the
live rows of an identity are strictly ordered by outbox id, and the relay keeps that order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, literal, select, update
from sqlmodel import Session, col

from app.db import outbox
from app.db.hl7_tables import OutboxMessageRow, ReplayJobRow, SubscriberRow
from app.db.repositories import IdentityRepository
from app.db.tables import IdentityRow
from app.domain.roles import Role, require_any
from app.domain.snapshot import identity_snapshot
from app.services.context import Actor, ServiceContext
from app.services.errors import NotFound

RUNNING, DONE = "running", "done"


def _candidates(job: ReplayJobRow) -> Any:
    """Identity ids the job covers: held by the subscriber (it received them), scope-filtered."""
    held = exists(
        select(literal(1)).where(
            OutboxMessageRow.subscriber_id == job.subscriber_id,
            OutboxMessageRow.identity_id == IdentityRow.id,
            OutboxMessageRow.kind == "live",
        )
    )
    conditions = [col(IdentityRow.active)]
    if job.scope == "qual":
        conditions += [IdentityRow.status == "QUAL", held]
    elif job.scope == "identity":
        conditions.append(IdentityRow.id == job.identity_id)
    elif job.scope == "range":
        conditions += [held, IdentityRow.updated_at >= job.from_at, IdentityRow.updated_at <= job.to_at]
    else:
        conditions.append(held)
    return and_(*conditions)


def new_job(
    session: Session,
    subscriber: SubscriberRow,
    scope: str,
    now: datetime,
    rate: float,
    *,
    identity_id: int | None = None,
    from_at: datetime | None = None,
    to_at: datetime | None = None,
) -> ReplayJobRow:
    """Create a job (in the caller's transaction) and count what it will send."""
    job = ReplayJobRow(
        subscriber_id=subscriber.id or 0,
        scope=scope,
        identity_id=identity_id,
        from_at=from_at,
        to_at=to_at,
        rate_per_second=rate,
        created_at=now,
        updated_at=now,
    )
    job.total = int(
        session.execute(select(func.count()).select_from(IdentityRow).where(_candidates(job))).scalar_one()
    )
    session.add(job)
    session.flush()
    return job


def start_replay(
    ctx: ServiceContext,
    actor: Actor,
    subscriber_id: int,
    *,
    identity_id: int | None = None,
    from_at: datetime | None = None,
    to_at: datetime | None = None,
    rate: float = 2000.0,
) -> ReplayJobRow:
    """Operations: replay one identity, or the identities changed in a time range, to a subscriber."""
    require_any(actor.roles, Role.ADMIN)
    scope = "identity" if identity_id is not None else "range"
    if scope == "range" and (from_at is None or to_at is None):
        raise ValueError("a range replay needs from and to")
    with ctx.unit_of_work(actor) as uow:
        subscriber = uow.session.get(SubscriberRow, subscriber_id)
        if subscriber is None:
            raise NotFound(what="Subscriber", ident=subscriber_id)
        job = new_job(
            uow.session,
            subscriber,
            scope,
            ctx.now(),
            rate,
            identity_id=identity_id,
            from_at=from_at,
            to_at=to_at,
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


def replay_progress(ctx: ServiceContext, actor: Actor, subscriber_id: int) -> list[ReplayJobRow]:
    """The subscriber's replay jobs, newest first, with their progress."""
    require_any(actor.roles, Role.ADMIN)
    with Session(ctx.engine) as session:
        stmt = (
            select(ReplayJobRow)
            .where(ReplayJobRow.subscriber_id == subscriber_id)
            .order_by(col(ReplayJobRow.id).desc())
        )
        return list(session.execute(stmt).scalars())


def running_jobs(ctx: ServiceContext) -> list[int]:
    """Ids of the jobs still to run (oldest first)."""
    with Session(ctx.engine) as session:
        stmt = select(ReplayJobRow.id).where(ReplayJobRow.state == RUNNING).order_by(ReplayJobRow.id)
        return list(session.execute(stmt).scalars())


def replay_step(ctx: ServiceContext, job_id: int, limit: int) -> int:
    """Enqueue the next ``limit`` identities of a job; returns how many (0 = the job is done)."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        now = ctx.now()
        taken = session.execute(
            update(ReplayJobRow)
            .where(ReplayJobRow.id == job_id, ReplayJobRow.state == RUNNING)
            .values(updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not taken:
            return 0
        job = session.get(ReplayJobRow, job_id)
        subscriber = session.get(SubscriberRow, job.subscriber_id) if job else None
        assert job is not None and subscriber is not None
        ids = list(
            session.execute(
                select(IdentityRow.id)
                .where(_candidates(job), col(IdentityRow.id) > job.cursor)
                .order_by(IdentityRow.id)
                .limit(limit)
            ).scalars()
        )
        repository = IdentityRepository(session)
        identities = repository.get_many(ids, for_update=True)
        documents = repository.latest_documents(ids)
        items = [
            (subscriber, identity.id, "A31", identity_snapshot(identity, None, documents.get(identity.id)))
            for identity in identities
        ]
        outbox.enqueue_many(session, items, now, kind="replay")
        job.cursor = ids[-1] if ids else job.cursor
        job.enqueued += len(identities)
        if len(ids) < limit:
            job.state, job.finished_at = DONE, now
        session.add(job)
        session.commit()
    return len(identities)
