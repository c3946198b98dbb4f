"""Operations on the outbound queue (role admin): depth, dead letters, retry and skip."""

from __future__ import annotations

from datetime import datetime

from app.db.outbox import DEAD, OutboxMessage, QueueStats
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import Conflict, MissingReason, NotFound


def queue_overview(ctx: ServiceContext, actor: Actor) -> list[QueueStats]:
    """Pending count, oldest pending message and dead letters per subscriber."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.reading() as reader:
        return reader.outbox.queue_stats()


def queue_gauges(ctx: ServiceContext) -> list[tuple[str, QueueStats]]:
    """Each subscriber's name with its queue figures (for /metrics)."""
    with ctx.reading() as reader:
        names = reader.subscribers.names()
        return [(str(names.get(s.subscriber_id, s.subscriber_id)), s) for s in reader.outbox.queue_stats()]


def dead_letters(
    ctx: ServiceContext, actor: Actor, subscriber_id: int | None = None, *, limit: int = 50, offset: int = 0
) -> list[OutboxMessage]:
    """Dead letters, oldest first (each blocks its identity's stream for its subscriber)."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.reading() as reader:
        return reader.outbox.dead_letters(subscriber_id, limit=limit, offset=offset)


def _dead(uow: UnitOfWork, message_id: int) -> OutboxMessage:
    message = uow.outbox.message(message_id, for_update=True)
    if message is None:
        raise NotFound(what="Message", ident=message_id)
    if message.state != DEAD:
        raise Conflict("dead-letter-state", field="state", ident=message_id, state=message.state)
    return message


def retry_dead_letter(ctx: ServiceContext, actor: Actor, message_id: int) -> OutboxMessage:
    """Send a dead letter again (same MSH-10), with a fresh error budget."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.unit_of_work(actor) as uow:
        message = uow.outbox.retry(_dead(uow, message_id), ctx.now())
        uow.audit("outbox.retried", message.identity_id, None, {"message_id": message_id}, full=True)
        uow.commit()
    return message


def skip_dead_letter(ctx: ServiceContext, actor: Actor, message_id: int, reason: str | None) -> OutboxMessage:
    """Give up on a dead letter (with a reason): the identity's later messages flow again."""
    require_any(actor.roles, Role.ADMIN)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="skip")
    with ctx.unit_of_work(actor) as uow:
        message = uow.outbox.skip(_dead(uow, message_id), reason.strip())
        uow.audit("outbox.skipped", message.identity_id, None, {"message_id": message_id}, reason, full=True)
        uow.commit()
    return message


def oldest_age_seconds(stats: QueueStats, now: datetime) -> float:
    """Age of the oldest pending message (0 when none)."""
    if stats.oldest_pending_at is None:
        return 0.0
    oldest = stats.oldest_pending_at
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - oldest).total_seconds())
