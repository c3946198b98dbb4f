"""Identitovigilance worklists: open items from workflows, list them, resolve them (audited).

A worklist states present anomalies: ``open_item`` updates the open item of the same cause (a
retry counts one more occurrence, the item id stays), and ``close_items`` closes, in the caller's
transaction, the items an event took the cause of (the table is ``app.domain.worklist.CLOSED_BY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.db.tables import WorklistItemRow
from app.domain.errors import InvalidTrait
from app.domain.roles import Role, require_any
from app.domain.worklist import (
    AUTOMATIC,
    EXPIRED_DOCUMENT_PREFIX,
    ClosingEvent,
    Hint,
    Resolution,
    WorklistKind,
    closed_kinds,
    expired_document_outcome,
    open_key,
)
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import AlreadyResolved, MissingReason, NotFound

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
    occurrences: int
    last_occurred_at: datetime | None
    closing_event: str | None


def _item(row: WorklistItemRow) -> WorklistItem:
    return WorklistItem(
        id=row.id or 0, kind=row.kind, identity_id=row.identity_id, other_identity_id=row.other_identity_id,
        outcome=row.outcome, hint=row.hint, details=dict(row.details or {}), source=row.source,
        created_at=row.created_at, created_by=row.created_by, resolved_at=row.resolved_at,
        resolved_by=row.resolved_by, resolution=row.resolution, resolution_reason=row.resolution_reason,
        occurrences=row.occurrences, last_occurred_at=row.last_occurred_at or row.created_at,
        closing_event=row.closing_event,
    )


WORKLIST_ITEM = WorklistItemRow.__table__  # type: ignore[attr-defined]
_LATEST = ("outcome", "hint", "details", "other_identity_id", "last_occurred_at")


def _upsert(dialect_insert: Any) -> Any:
    """INSERT, or one more occurrence of the open item of the same cause (atomic on both engines)."""
    stmt = dialect_insert(WORKLIST_ITEM)
    return stmt.on_conflict_do_update(
        index_elements=[WORKLIST_ITEM.c.open_key],
        set_={"occurrences": WORKLIST_ITEM.c.occurrences + 1, **{c: stmt.excluded[c] for c in _LATEST}},
    ).returning(WORKLIST_ITEM.c.id, WORKLIST_ITEM.c.occurrences)


_OPEN = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


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
    """Open an item in the caller's transaction, or count one more occurrence of the open item of
    the same cause (latest outcome and details kept, same id); audited with the identity."""
    connection, now = uow.session.connection(), uow.now()
    item_id, occurrences = connection.execute(_OPEN[connection.dialect.name], {
        "kind": kind.value, "identity_id": identity_id, "other_identity_id": other_identity_id,
        "outcome": outcome, "hint": hint.value if hint else None, "details": details or {}, "source": source,
        "created_at": now, "created_by": uow.actor.subject, "last_occurred_at": now,
        "open_key": open_key(kind, identity_id, outcome),
    }).one()
    after = {"item": item_id, "kind": kind.value, "outcome": outcome}
    if occurrences == 1:
        uow.audit("worklist.opened", identity_id, None, after, full=True)
    else:
        uow.audit("worklist.repeated", identity_id, None, {**after, "occurrences": occurrences}, full=True)
    return int(item_id)


def close_items(
    uow: UnitOfWork, identity_id: int, event: ClosingEvent, *, outcome: str | None = None
) -> list[int]:
    """Close, in the caller's transaction, the identity's open items whose cause the event took away."""
    stmt = (
        update(WORKLIST_ITEM)
        .where(WORKLIST_ITEM.c.identity_id == identity_id, WORKLIST_ITEM.c.resolved_at.is_(None),
               WORKLIST_ITEM.c.kind.in_(sorted(k.value for k in closed_kinds(event))))
        .values(resolved_at=uow.now(), resolved_by=uow.actor.subject, resolution=AUTOMATIC,
                closing_event=event.value, open_key=None)
        .returning(WORKLIST_ITEM.c.id, WORKLIST_ITEM.c.kind)
    )
    if outcome is not None:
        stmt = stmt.where(WORKLIST_ITEM.c.outcome == outcome)
    closed = uow.session.connection().execute(stmt).all()
    for item_id, kind in sorted(closed):
        uow.audit("worklist.closed", identity_id, None, {"item": item_id, "kind": kind, "event": event.value},
                  full=True)
    return sorted(item_id for item_id, _ in closed)


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
        if row is None:
            raise NotFound(what="Worklist item", ident=item_id)
        if row.resolved_at is not None:
            raise AlreadyResolved(ident=item_id, by=row.resolved_by, at=_utc_minute(row.resolved_at),
                                  resolution=row.resolution, event=row.closing_event)
        row.resolved_at, row.resolved_by, row.open_key = ctx.now(), actor.subject, None
        row.resolution, row.resolution_reason = parsed.value, reason
        uow.session.add(row)
        uow.audit("worklist.resolved", row.identity_id, None,
                  {"item": item_id, "kind": row.kind, "resolution": parsed.value}, reason, full=True)
        item = _item(row)
        uow.commit()
    return item


def _utc_minute(moment: datetime) -> str:
    """A stored timestamp as the message shows it (UTC; SQLite gives it back without a zone)."""
    return f"{moment.astimezone(UTC) if moment.tzinfo else moment:%Y-%m-%d %H:%M}"


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
        WorklistItemRow.outcome == literal(EXPIRED_DOCUMENT_PREFIX, String)
        + cast(IdentityDocumentRow.id, String),
    ).exists()
    stmt = select(IdentityDocumentRow.id, IdentityDocumentRow.identity_id, IdentityDocumentRow.type).join(
        IdentityRow, IdentityRow.id == IdentityDocumentRow.identity_id).where(
        col(IdentityDocumentRow.expires_on) < today, col(IdentityDocumentRow.withdrawn_at).is_(None),
        col(IdentityDocumentRow.high_trust), col(IdentityRow.status).in_(("VALI", "QUAL")), ~already)
    job = Actor("job:document-expiry", frozenset({"identitovigilance"}), kind="job")
    with ctx.unit_of_work(job) as uow:
        found = uow.session.execute(stmt.limit(1000)).all()
        for document_id, identity_id, doc_type in found:
            open_item(uow, WorklistKind.DOCUMENT_EXPIRED, identity_id, expired_document_outcome(document_id),
                      hint=Hint.NEW_DOCUMENT, details={"document_id": document_id, "type": doc_type},
                      source="job:document-expiry")
        uow.commit()
    return len(found)
