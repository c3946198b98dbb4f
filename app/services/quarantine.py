"""Quarantined inbound messages: an operator lists them, fixes the text if needed, and re-runs them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlmodel import Session, col

from app.db.hl7_tables import InboundMessageRow, QuarantineRow
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, MissingReason, NotFound

OPERATORS = (Role.ADMIN, Role.IDENTITOVIGILANCE)
# The inbound pipeline (parse + apply + ACK), injected by the composition root.
# (message to run, the message the sender sent) -> (MSA-1 code, ACK text)
Processor = Callable[[bytes | str, bytes | None], tuple[str, str]]


def list_quarantine(
    ctx: ServiceContext, actor: Actor, state: str | None = "open", *, limit: int = 50, offset: int = 0
) -> list[QuarantineRow]:
    """Quarantined messages, oldest first."""
    require_any(actor.roles, *OPERATORS)
    stmt = select(QuarantineRow)
    if state:
        stmt = stmt.where(QuarantineRow.state == state)
    with Session(ctx.engine) as session:
        return list(session.execute(stmt.order_by(QuarantineRow.id).limit(limit).offset(offset)).scalars())


def get_quarantined(ctx: ServiceContext, actor: Actor, item_id: int) -> QuarantineRow:
    """One quarantined message."""
    require_any(actor.roles, *OPERATORS)
    with Session(ctx.engine) as session:
        row = session.get(QuarantineRow, item_id)
    if row is None:
        raise NotFound(what="Quarantined message", ident=item_id)
    return row


def _open(session: Session, item_id: int) -> QuarantineRow:
    row = session.execute(
        select(QuarantineRow).where(QuarantineRow.id == item_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(what="Quarantined message", ident=item_id)
    if row.state != "open":
        raise Conflict("quarantine-closed", field="state", ident=item_id, state=row.state)
    return row


def rerun(
    ctx: ServiceContext, actor: Actor, item_id: int, processor: Processor, fixed: str | None = None
) -> tuple[str, str]:
    """Forget the AE sent for this MSH-10 and run the (possibly fixed) message again; returns the ACK."""
    require_any(actor.roles, *OPERATORS)
    with ctx.unit_of_work(actor) as uow:
        row = _open(uow.session, item_id)
        uow.session.execute(delete(InboundMessageRow).where(col(InboundMessageRow.quarantine_id) == item_id))
        row.state, row.resolved_at, row.resolved_by = "rerun", ctx.now(), actor.subject
        row.note = "re-run with a fixed message" if fixed else "re-run unchanged"
        raw: bytes | str = fixed if fixed is not None else row.raw
        original = bytes(row.raw)
        uow.session.add(row)
        uow.audit(
            "quarantine.rerun", None, None, {"quarantine_id": item_id, "fixed": fixed is not None}, full=True
        )
        uow.commit()
    return processor(raw, original)


def discard(ctx: ServiceContext, actor: Actor, item_id: int, reason: str | None) -> QuarantineRow:
    """Close a quarantined message without applying it (with a reason)."""
    require_any(actor.roles, *OPERATORS)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="discard")
    with ctx.unit_of_work(actor) as uow:
        row = _open(uow.session, item_id)
        row.state, row.resolved_at, row.resolved_by, row.note = "discarded", ctx.now(), actor.subject, reason
        uow.session.add(row)
        uow.audit("quarantine.discarded", None, None, {"quarantine_id": item_id}, reason, full=True)
        uow.commit()
    return row
