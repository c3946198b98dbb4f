"""Quarantined inbound messages: an operator lists them, fixes the text if needed, and re-runs them."""

from __future__ import annotations

from collections.abc import Callable

from app.db.inbound_log import QuarantinedMessage
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import Conflict, MissingReason, NotFound

OPERATORS = (Role.ADMIN, Role.IDENTITOVIGILANCE)
# The inbound pipeline (parse + apply + ACK), injected by the composition root.
# (message to run, the message the sender sent) -> (MSA-1 code, ACK text)
Processor = Callable[[bytes | str, bytes | None], tuple[str, str]]


def list_quarantine(
    ctx: ServiceContext, actor: Actor, state: str | None = "open", *, limit: int = 50, offset: int = 0
) -> list[QuarantinedMessage]:
    """Quarantined messages, oldest first."""
    require_any(actor.roles, *OPERATORS)
    with ctx.reading() as reader:
        return reader.inbound.quarantined_list(state, limit=limit, offset=offset)


def get_quarantined(ctx: ServiceContext, actor: Actor, item_id: int) -> QuarantinedMessage:
    """One quarantined message."""
    require_any(actor.roles, *OPERATORS)
    with ctx.reading() as reader:
        item = reader.inbound.quarantined(item_id)
    if item is None:
        raise NotFound(what="Quarantined message", ident=item_id)
    return item


def _open(uow: UnitOfWork, item_id: int) -> QuarantinedMessage:
    item = uow.inbound.quarantined(item_id, for_update=True)
    if item is None:
        raise NotFound(what="Quarantined message", ident=item_id)
    if item.state != "open":
        raise Conflict("quarantine-closed", field="state", ident=item_id, state=item.state)
    return item


def rerun(
    ctx: ServiceContext, actor: Actor, item_id: int, processor: Processor, fixed: str | None = None
) -> tuple[str, str]:
    """Forget the AE sent for this MSH-10 and run the (possibly fixed) message again; returns the ACK."""
    require_any(actor.roles, *OPERATORS)
    with ctx.unit_of_work(actor) as uow:
        item = _open(uow, item_id)
        uow.inbound.forget_answer(item_id)
        note = "re-run with a fixed message" if fixed else "re-run unchanged"
        uow.inbound.close_quarantined(item_id, state="rerun", at=uow.now(), by=actor.subject, note=note)
        uow.audit(
            "quarantine.rerun", None, None, {"quarantine_id": item_id, "fixed": fixed is not None}, full=True
        )
        uow.commit()
    return processor(fixed if fixed is not None else item.raw, item.raw)


def discard(ctx: ServiceContext, actor: Actor, item_id: int, reason: str | None) -> QuarantinedMessage:
    """Close a quarantined message without applying it (with a reason)."""
    require_any(actor.roles, *OPERATORS)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="discard")
    with ctx.unit_of_work(actor) as uow:
        _open(uow, item_id)
        uow.inbound.close_quarantined(item_id, state="discarded", at=uow.now(), by=actor.subject, note=reason)
        closed = uow.inbound.quarantined(item_id)
        uow.audit("quarantine.discarded", None, None, {"quarantine_id": item_id}, reason, full=True)
        uow.commit()
    assert closed is not None
    return closed
