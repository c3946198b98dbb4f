"""Operations on the outbound queue (role admin): depth, dead letters, retry and skip."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from app.db import outbox
from app.db.hl7_tables import OutboxMessageRow, SubscriberRow
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, MissingReason, NotFound


def queue_overview(ctx: ServiceContext, actor: Actor) -> list[outbox.QueueStats]:
    """Pending count, oldest pending message and dead letters per subscriber."""
    require_any(actor.roles, Role.ADMIN)
    with Session(ctx.engine) as session:
        return outbox.queue_stats(session)


def queue_gauges(ctx: ServiceContext) -> list[tuple[str, outbox.QueueStats]]:
    """Each subscriber's name with its queue figures (for /metrics)."""
    with Session(ctx.read_engine) as session:
        names = dict(session.execute(select(SubscriberRow.id, SubscriberRow.name)).all())
        return [(str(names.get(s.subscriber_id, s.subscriber_id)), s) for s in outbox.queue_stats(session)]


def dead_letters(
    ctx: ServiceContext, actor: Actor, subscriber_id: int | None = None, *, limit: int = 50, offset: int = 0
) -> list[OutboxMessageRow]:
    """Dead letters, oldest first (each blocks its identity's stream for its subscriber)."""
    require_any(actor.roles, Role.ADMIN)
    stmt = select(OutboxMessageRow).where(OutboxMessageRow.state == outbox.DEAD)
    if subscriber_id is not None:
        stmt = stmt.where(OutboxMessageRow.subscriber_id == subscriber_id)
    with Session(ctx.engine) as session:
        return list(session.execute(stmt.order_by(OutboxMessageRow.id).limit(limit).offset(offset)).scalars())


def _dead(session: Session, message_id: int) -> OutboxMessageRow:
    row = session.execute(
        select(OutboxMessageRow).where(OutboxMessageRow.id == message_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(what="Message", ident=message_id)
    if row.state != outbox.DEAD:
        raise Conflict("dead-letter-state", field="state", ident=message_id, state=row.state)
    return row


def retry_dead_letter(ctx: ServiceContext, actor: Actor, message_id: int) -> OutboxMessageRow:
    """Send a dead letter again (same MSH-10), with a fresh error budget."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.unit_of_work(actor) as uow:
        row = _dead(uow.session, message_id)
        row.state, row.error_attempts, row.available_at = outbox.PENDING, 0, ctx.now()
        uow.session.add(row)
        uow.audit("outbox.retried", row.identity_id, None, {"message_id": message_id}, full=True)
        uow.commit()
    return row


def skip_dead_letter(
    ctx: ServiceContext, actor: Actor, message_id: int, reason: str | None
) -> OutboxMessageRow:
    """Give up on a dead letter (with a reason): the identity's later messages flow again."""
    require_any(actor.roles, Role.ADMIN)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="skip")
    with ctx.unit_of_work(actor) as uow:
        row = _dead(uow.session, message_id)
        row.state, row.skip_reason = outbox.SKIPPED, reason.strip()
        uow.session.add(row)
        uow.audit("outbox.skipped", row.identity_id, None, {"message_id": message_id}, reason, full=True)
        uow.commit()
    return row


def oldest_age_seconds(stats: outbox.QueueStats, now: datetime) -> float:
    """Age of the oldest pending message (0 when none)."""
    if stats.oldest_pending_at is None:
        return 0.0
    oldest = stats.oldest_pending_at
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - oldest).total_seconds())
