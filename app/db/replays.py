"""Replay jobs: resumable re-sends of current identity states to one subscriber.

A job walks identity ids upwards from its cursor. ``take`` is the first statement of each step: it
takes the job's row (the write lock on SQLite, a row lock on PostgreSQL), so that one step of a job
runs at a time and the job's state is read after the lock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, literal, select, update
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow, ReplayJobRow
from app.db.tables import IdentityRow

RUNNING, DONE = "running", "done"
REPLAY_JOB = ReplayJobRow.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessageRow.__table__  # type: ignore[attr-defined]
IDENTITY = IdentityRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ReplayJob:
    """A replay job and its progress."""

    id: int
    subscriber_id: int
    scope: str  # qual | held | identity | range
    state: str  # running | done | cancelled
    identity_id: int | None
    from_at: datetime | None
    to_at: datetime | None
    cursor: int  # last identity id enqueued
    total: int
    enqueued: int
    rate_per_second: float
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def _job(row: Any) -> ReplayJob:
    return ReplayJob(
        row.id, row.subscriber_id, row.scope, row.state, row.identity_id, row.from_at, row.to_at, row.cursor,
        row.total, row.enqueued, row.rate_per_second, row.created_at, row.updated_at, row.finished_at,
    )


def _candidates(
    subscriber_id: int, scope: str, identity_id: int | None, from_at: datetime | None, to_at: datetime | None
) -> Any:
    """Identity ids a job covers: held by the subscriber (it received them), scope-filtered."""
    held = exists(
        select(literal(1)).where(
            OUTBOX.c.subscriber_id == subscriber_id,
            OUTBOX.c.identity_id == IDENTITY.c.id,
            OUTBOX.c.kind == "live",
        )
    )
    conditions = [IDENTITY.c.active]
    if scope == "qual":
        conditions += [IDENTITY.c.status == "QUAL", held]
    elif scope == "identity":
        conditions.append(IDENTITY.c.id == identity_id)
    elif scope == "range":
        conditions += [held, IDENTITY.c.updated_at >= from_at, IDENTITY.c.updated_at <= to_at]
    else:
        conditions.append(held)
    return and_(*conditions)


class ReplayRepository:
    """Replay jobs: resumable re-sends of current identity states to one subscriber."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(
        self, subscriber_id: int, scope: str, now: datetime, rate: float, *, identity_id: int | None = None,
        from_at: datetime | None = None, to_at: datetime | None = None,
    ) -> ReplayJob:
        """Create a running job, counting what it will send."""
        covered = _candidates(subscriber_id, scope, identity_id, from_at, to_at)
        total = self._session.execute(select(func.count()).select_from(IDENTITY).where(covered)).scalar_one()
        job = ReplayJob(0, subscriber_id, scope, RUNNING, identity_id, from_at, to_at, 0, int(total), 0, rate,
                        now, now, None)
        values = {k: v for k, v in asdict(job).items() if k != "id"}
        result = self._session.execute(insert(REPLAY_JOB).values(values))
        return replace(job, id=int(result.inserted_primary_key[0]))  # type: ignore[attr-defined]

    def of_subscriber(self, subscriber_id: int) -> list[ReplayJob]:
        """A subscriber's jobs, newest first."""
        stmt = (
            select(REPLAY_JOB)
            .where(REPLAY_JOB.c.subscriber_id == subscriber_id)
            .order_by(REPLAY_JOB.c.id.desc())
        )
        return [_job(r) for r in self._session.execute(stmt)]

    def running(self) -> list[int]:
        """Ids of the jobs still to run, oldest first."""
        stmt = select(REPLAY_JOB.c.id).where(REPLAY_JOB.c.state == RUNNING).order_by(REPLAY_JOB.c.id)
        return list(self._session.execute(stmt).scalars())

    def take(self, job_id: int, now: datetime) -> ReplayJob | None:
        """Lock a running job for one step (None when it is no longer running)."""
        taken = self._session.execute(
            update(REPLAY_JOB)
            .where(REPLAY_JOB.c.id == job_id, REPLAY_JOB.c.state == RUNNING)
            .values(updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not taken:
            return None
        return _job(self._session.execute(select(REPLAY_JOB).where(REPLAY_JOB.c.id == job_id)).one())

    def next_identities(self, job: ReplayJob, limit: int) -> list[int]:
        """The next ``limit`` identity ids the job covers, after its cursor."""
        covered = _candidates(job.subscriber_id, job.scope, job.identity_id, job.from_at, job.to_at)
        stmt = select(IDENTITY.c.id).where(covered, IDENTITY.c.id > job.cursor)
        stmt = stmt.order_by(IDENTITY.c.id).limit(limit)
        return list(self._session.execute(stmt).scalars())

    def advance(self, job: ReplayJob, cursor: int, enqueued: int, now: datetime, *, finished: bool) -> None:
        """Record a step: the new cursor, how many rows it enqueued, and whether the job is done."""
        values: dict[str, Any] = {"cursor": cursor, "enqueued": job.enqueued + enqueued}
        if finished:
            values.update(state=DONE, finished_at=now)
        self._session.execute(update(REPLAY_JOB).where(REPLAY_JOB.c.id == job.id).values(**values))
