"""Identitovigilance worklists: open items from workflows, list them, resolve them (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, insert, literal, select
from sqlmodel import Session, col

from app.db.tables import WorklistItemRow
from app.domain.errors import InvalidTrait
from app.domain.roles import Role, require_any
from app.domain.worklist import Hint, Resolution, WorklistKind
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import MissingReason, NotFound

CELL = (Role.IDENTITOVIGILANCE, Role.ADMIN)


@dataclass(frozen=True)
class WorklistItem:
    """A worklist item as the back office sees it."""

    id: int
    kind: str
    identity_id: int
    other_identity_id: int | None
    outcome: str
    hint: str | None
    details: dict[str, Any]
    source: str
    created_at: datetime
    created_by: str
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    resolution_reason: str | None


def _item(row: WorklistItemRow) -> WorklistItem:
    return WorklistItem(
        id=row.id or 0, kind=row.kind, identity_id=row.identity_id, other_identity_id=row.other_identity_id,
        outcome=row.outcome, hint=row.hint, details=dict(row.details or {}), source=row.source,
        created_at=row.created_at, created_by=row.created_by, resolved_at=row.resolved_at,
        resolved_by=row.resolved_by, resolution=row.resolution, resolution_reason=row.resolution_reason,
    )


WORKLIST_ITEM = WorklistItemRow.__table__  # type: ignore[attr-defined]
_OPEN = insert(WORKLIST_ITEM).returning(WORKLIST_ITEM.c.id)  # a plain INSERT: no ORM unit of work


def open_item(
    uow: UnitOfWork,
    kind: WorklistKind,
    identity_id: int,
    outcome: str,
    *,
    hint: Hint | None = None,
    other_identity_id: int | None = None,
    details: dict[str, Any] | None = None,
    source: str = "desk",
) -> int:
    """Open an item inside the caller's transaction (audited with the identity); returns its id."""
    item_id = uow.session.connection().execute(_OPEN, {
        "kind": kind.value, "identity_id": identity_id, "other_identity_id": other_identity_id, "outcome": outcome,
        "hint": hint.value if hint else None, "details": details or {}, "source": source,
        "created_at": uow.ctx.now(), "created_by": uow.actor.subject,
    }).scalar_one()
    uow.audit("worklist.opened", identity_id, None,
              {"item": item_id, "kind": kind.value, "outcome": outcome}, full=True)
    return int(item_id)


def counts(ctx: ServiceContext, actor: Actor) -> dict[str, int]:
    """Open items per kind (every kind listed, zero included)."""
    require_any(actor.roles, *CELL)
    with Session(ctx.engine) as session:
        rows = session.execute(
            select(WorklistItemRow.kind, func.count())
            .where(col(WorklistItemRow.resolved_at).is_(None))
            .group_by(WorklistItemRow.kind)
        ).all()
    found = {kind: count for kind, count in rows}
    return {kind.value: int(found.get(kind.value, 0)) for kind in WorklistKind}


def list_items(
    ctx: ServiceContext, actor: Actor, kind: str, *, include_resolved: bool = False,
    limit: int = 50, offset: int = 0,
) -> list[WorklistItem]:
    """Items of one kind, oldest first."""
    require_any(actor.roles, *CELL)
    parsed = _kind(kind)
    stmt = select(WorklistItemRow).where(WorklistItemRow.kind == parsed.value)
    if not include_resolved:
        stmt = stmt.where(col(WorklistItemRow.resolved_at).is_(None))
    stmt = stmt.order_by(col(WorklistItemRow.id)).limit(limit).offset(offset)
    with Session(ctx.engine) as session:
        return [_item(r) for r in session.execute(stmt).scalars().all()]


def resolve_item(
    ctx: ServiceContext, actor: Actor, item_id: int, resolution: str, reason: str | None
) -> WorklistItem:
    """Close an item with a resolution and a reason (audited)."""
    require_any(actor.roles, *CELL)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="resolution")
    try:
        parsed = Resolution(resolution)
    except ValueError:
        raise InvalidTrait("resolution-unknown", field="resolution", value=str(resolution)[:20]) from None
    with ctx.unit_of_work(actor) as uow:
        row = uow.session.get(WorklistItemRow, item_id, with_for_update=True)
        if row is None or row.resolved_at is not None:
            raise NotFound(what="Open worklist item", ident=item_id)
        row.resolved_at, row.resolved_by = ctx.now(), actor.subject
        row.resolution, row.resolution_reason = parsed.value, reason
        uow.session.add(row)
        uow.audit("worklist.resolved", row.identity_id, None,
                  {"item": item_id, "kind": row.kind, "resolution": parsed.value}, reason, full=True)
        item = _item(row)
        uow.commit()
    return item


def _kind(kind: str) -> WorklistKind:
    try:
        return WorklistKind(kind)
    except ValueError:
        raise NotFound(what="Worklist", ident=kind) from None


def scan_expired_documents(ctx: ServiceContext) -> int:
    """Open a document_expired item for each expired document check of a VALI/QUAL identity (once)."""
    from app.db.tables import IdentityDocumentRow, IdentityRow

    today = ctx.today()
    already = select(WorklistItemRow.id).where(
        WorklistItemRow.kind == WorklistKind.DOCUMENT_EXPIRED.value,
        WorklistItemRow.outcome == literal("document:", String) + cast(IdentityDocumentRow.id, String),
    ).exists()
    stmt = select(IdentityDocumentRow.id, IdentityDocumentRow.identity_id, IdentityDocumentRow.type).join(
        IdentityRow, IdentityRow.id == IdentityDocumentRow.identity_id).where(
        col(IdentityDocumentRow.expires_on) < today, col(IdentityDocumentRow.withdrawn_at).is_(None),
        col(IdentityDocumentRow.high_trust), col(IdentityRow.status).in_(("VALI", "QUAL")), ~already)
    job = Actor("job:document-expiry", frozenset({"identitovigilance"}), kind="job")
    with ctx.unit_of_work(job) as uow:
        found = uow.session.execute(stmt.limit(1000)).all()
        for document_id, identity_id, doc_type in found:
            open_item(uow, WorklistKind.DOCUMENT_EXPIRED, identity_id, f"document:{document_id}",
                      hint=Hint.NEW_DOCUMENT, details={"document_id": document_id, "type": doc_type},
                      source="job:document-expiry")
        uow.commit()
    return len(found)
