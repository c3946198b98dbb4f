"""Routes of the HL7 integration: subscribers (admin), queue operations, quarantine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.deps import ActorDep, CtxDep
from app.api.hl7_schemas import (
    OutboxMessageRead,
    QuarantineDetail,
    QuarantineRead,
    QueueRead,
    ReasonBody,
    ReplayRead,
    ReplayRequest,
    Rerun,
    RerunResult,
    SubscriberCreate,
    SubscriberRead,
    SubscriberUpdate,
)
from app.services import outbox_ops, quarantine, replay, subscribers

router = APIRouter(tags=["hl7"])


def _rate(request: Request) -> float:
    return float(request.app.state.settings.hl7.replay_rate_per_second)


@router.post("/subscribers", status_code=201, response_model=SubscriberRead)
def create_subscriber(body: SubscriberCreate, ctx: CtxDep, actor: ActorDep) -> SubscriberRead:
    """Register a downstream application (legacy format until switched to INS-ready)."""
    row = subscribers.create_subscriber(ctx, actor, subscribers.SubscriberInput(**body.model_dump()))
    return SubscriberRead.model_validate(row)


@router.get("/subscribers", response_model=list[SubscriberRead])
def list_subscribers(ctx: CtxDep, actor: ActorDep) -> list[SubscriberRead]:
    """Every subscriber."""
    return [SubscriberRead.model_validate(r) for r in subscribers.list_subscribers(ctx, actor)]


@router.get("/subscribers/{subscriber_id}", response_model=SubscriberRead)
def get_subscriber(subscriber_id: int, ctx: CtxDep, actor: ActorDep) -> SubscriberRead:
    """One subscriber."""
    return SubscriberRead.model_validate(subscribers.get_subscriber(ctx, actor, subscriber_id))


@router.patch("/subscribers/{subscriber_id}", response_model=SubscriberRead)
def update_subscriber(
    subscriber_id: int, body: SubscriberUpdate, ctx: CtxDep, actor: ActorDep
) -> SubscriberRead:
    """Change connection data, events, charset or the enabled flag (a field sent as null is left
    as it is: none of them can be emptied)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return SubscriberRead.model_validate(subscribers.update_subscriber(ctx, actor, subscriber_id, changes))


@router.post("/subscribers/{subscriber_id}/ins-ready", status_code=202, response_model=ReplayRead)
def switch_ins_ready(subscriber_id: int, ctx: CtxDep, actor: ActorDep, request: Request) -> ReplayRead:
    """Switch to the INS-ready format and start the replay of its QUAL identities."""
    job = subscribers.switch_ins_ready(ctx, actor, subscriber_id, rate_per_second=_rate(request))
    return ReplayRead.model_validate(job)


@router.get("/subscribers/{subscriber_id}/replay", response_model=list[ReplayRead])
def replay_progress(subscriber_id: int, ctx: CtxDep, actor: ActorDep) -> list[ReplayRead]:
    """The subscriber's replay jobs, newest first, with their progress."""
    return [ReplayRead.model_validate(j) for j in replay.replay_progress(ctx, actor, subscriber_id)]


@router.post("/subscribers/{subscriber_id}/replay", status_code=202, response_model=ReplayRead)
def start_replay(
    subscriber_id: int, body: ReplayRequest, ctx: CtxDep, actor: ActorDep, request: Request
) -> ReplayRead:
    """Replay one identity, or the identities changed in a time range, to this subscriber."""
    job = replay.start_replay(
        ctx,
        actor,
        subscriber_id,
        identity_id=body.identity_id,
        from_at=body.from_at,
        to_at=body.to_at,
        rate=_rate(request),
    )
    return ReplayRead.model_validate(job)


@router.post("/subscribers/{subscriber_id}/pause", response_model=SubscriberRead)
def pause(subscriber_id: int, ctx: CtxDep, actor: ActorDep) -> SubscriberRead:
    """Stop deliveries (messages keep queueing)."""
    return SubscriberRead.model_validate(subscribers.set_paused(ctx, actor, subscriber_id, True))


@router.post("/subscribers/{subscriber_id}/resume", response_model=SubscriberRead)
def resume(subscriber_id: int, ctx: CtxDep, actor: ActorDep) -> SubscriberRead:
    """Resume deliveries."""
    return SubscriberRead.model_validate(subscribers.set_paused(ctx, actor, subscriber_id, False))


@router.get("/operations/queues", response_model=list[QueueRead])
def queues(ctx: CtxDep, actor: ActorDep) -> list[QueueRead]:
    """Queue depth, oldest pending age and dead letters per subscriber."""
    now = datetime.now(UTC)
    return [
        QueueRead(
            subscriber_id=s.subscriber_id,
            pending=s.pending,
            dead=s.dead,
            oldest_pending_age_seconds=outbox_ops.oldest_age_seconds(s, now),
        )
        for s in outbox_ops.queue_overview(ctx, actor)
    ]


@router.get("/operations/dead-letters", response_model=list[OutboxMessageRead])
def dead_letters(
    ctx: CtxDep,
    actor: ActorDep,
    subscriber_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OutboxMessageRead]:
    """Dead letters, oldest first."""
    rows = outbox_ops.dead_letters(ctx, actor, subscriber_id, limit=limit, offset=offset)
    return [OutboxMessageRead.model_validate(r) for r in rows]


@router.post("/operations/dead-letters/{message_id}/retry", response_model=OutboxMessageRead)
def retry_dead_letter(message_id: int, ctx: CtxDep, actor: ActorDep) -> OutboxMessageRead:
    """Send a dead letter again (same MSH-10)."""
    return OutboxMessageRead.model_validate(outbox_ops.retry_dead_letter(ctx, actor, message_id))


@router.post("/operations/dead-letters/{message_id}/skip", response_model=OutboxMessageRead)
def skip_dead_letter(message_id: int, body: ReasonBody, ctx: CtxDep, actor: ActorDep) -> OutboxMessageRead:
    """Give up on a dead letter (reason required); the identity's later messages flow again."""
    return OutboxMessageRead.model_validate(outbox_ops.skip_dead_letter(ctx, actor, message_id, body.reason))


@router.get("/quarantine", response_model=list[QuarantineRead])
def list_quarantine(
    ctx: CtxDep,
    actor: ActorDep,
    state: str | None = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[QuarantineRead]:
    """Quarantined inbound messages (open by default)."""
    rows = quarantine.list_quarantine(ctx, actor, state, limit=limit, offset=offset)
    return [QuarantineRead.model_validate(r) for r in rows]


@router.get("/quarantine/{item_id}", response_model=QuarantineDetail)
def get_quarantined(item_id: int, ctx: CtxDep, actor: ActorDep) -> QuarantineDetail:
    """One quarantined message with its text."""
    row = quarantine.get_quarantined(ctx, actor, item_id)
    text = row.raw.decode("utf-8", errors="replace").replace("\r", "\n")
    return QuarantineDetail.model_validate(
        {**QuarantineRead.model_validate(row).model_dump(), "message": text}
    )


@router.post("/quarantine/{item_id}/rerun", response_model=RerunResult)
def rerun(item_id: int, body: Rerun, ctx: CtxDep, actor: ActorDep, request: Request) -> RerunResult:
    """Run the message again, as received or as fixed by the operator; returns the new ACK."""
    fixed = body.message.replace("\r\n", "\r").replace("\n", "\r") if body.message else None
    code, ack = quarantine.rerun(ctx, actor, item_id, request.app.state.hl7_processor, fixed)
    return RerunResult(ack_code=code, ack=ack.replace("\r", "\n"))


@router.post("/quarantine/{item_id}/discard", response_model=QuarantineRead)
def discard(item_id: int, body: ReasonBody, ctx: CtxDep, actor: ActorDep) -> QuarantineRead:
    """Close a quarantined message without applying it."""
    return QuarantineRead.model_validate(quarantine.discard(ctx, actor, item_id, body.reason))
