"""Identitovigilance worklists: open items from workflows, list them, resolve them (audited).

A worklist states present anomalies: ``open_item`` updates the open item of the same cause (a
retry counts one more occurrence, the item id stays), and ``close_items`` closes, in the caller's
transaction, the items an event took the cause of (the table is ``app.domain.worklist.CLOSED_BY``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from app.db.worklists import NewItem, WorklistItem
from app.domain.errors import InvalidTrait
from app.domain.roles import Role, require_any
from app.domain.worklist import (
    ClosingEvent,
    Hint,
    Resolution,
    WorklistKind,
    closed_kinds,
    expired_document_outcome,
)
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import AlreadyResolved, MissingReason, NotFound

__all__ = ["NewItem", "WorklistItem", "close_items", "counts", "list_items", "open_item", "open_items",
           "resolve_item", "scan_expired_documents"]

CELL = (Role.IDENTITOVIGILANCE, Role.ADMIN)
EXPIRY_JOB = Actor("job:document-expiry", frozenset({"identitovigilance"}), kind="job")
EXPIRY_SCAN_LIMIT = 1000


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
    opened = uow.worklists.open(kind, identity_id, outcome, hint=hint, other_identity_id=other_identity_id,
                                details=details, source=source, at=uow.now(), by=uow.actor.subject)
    after = {"item": opened.id, "kind": kind.value, "outcome": outcome}
    if opened.occurrences == 1:
        uow.audit("worklist.opened", identity_id, None, after, full=True)
    else:
        uow.audit("worklist.repeated", identity_id, None, {**after, "occurrences": opened.occurrences},
                  full=True)
    return opened.id


def open_items(uow: UnitOfWork, kind: WorklistKind, items: list[NewItem], *, source: str) -> list[int]:
    """``open_item`` for many items of one kind, in one statement (a scan opens thousands)."""
    opened = uow.worklists.open_many(kind, items, source=source, at=uow.now(), by=uow.actor.subject)
    for item, done in zip(items, opened, strict=True):
        after = {"item": done.id, "kind": kind.value, "outcome": item.outcome}
        if done.occurrences == 1:
            uow.audit("worklist.opened", item.identity_id, None, after, full=True)
        else:
            uow.audit("worklist.repeated", item.identity_id, None, {**after, "occurrences": done.occurrences},
                      full=True)
    return [done.id for done in opened]


def close_items(
    uow: UnitOfWork, identity_id: int, event: ClosingEvent, *, outcome: str | None = None
) -> list[int]:
    """Close, in the caller's transaction, the identity's open items whose cause the event took away."""
    closed = uow.worklists.close(identity_id, closed_kinds(event), event, outcome=outcome, at=uow.now(),
                                 by=uow.actor.subject)
    for item in closed:
        uow.audit("worklist.closed", identity_id, None,
                  {"item": item.id, "kind": item.kind, "event": event.value}, full=True)
    return [item.id for item in closed]


def counts(ctx: ServiceContext, actor: Actor) -> dict[str, int]:
    """Open items per kind (every kind listed, zero included)."""
    require_any(actor.roles, *CELL)
    with ctx.reading() as reader:
        found = reader.worklists.open_counts()
    return {kind.value: found.get(kind.value, 0) for kind in WorklistKind}


def list_items(
    ctx: ServiceContext, actor: Actor, kind: str, *, include_resolved: bool = False,
    limit: int = 50, offset: int = 0, identity_id: int | None = None,
    opened_from: datetime | None = None, opened_before: datetime | None = None,
) -> list[WorklistItem]:
    """Items of one kind, oldest first (optionally of one identity, or opened in a time range)."""
    require_any(actor.roles, *CELL)
    parsed = _kind(kind)
    with ctx.reading() as reader:
        return reader.worklists.of_kind(parsed, include_resolved=include_resolved, limit=limit, offset=offset,
                                        identity_id=identity_id, opened_from=opened_from,
                                        opened_before=opened_before)


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
        item = uow.worklists.get_for_update(item_id)
        if item is None:
            raise NotFound(what="Worklist item", ident=item_id)
        if item.resolved_at is not None:
            raise AlreadyResolved(ident=item_id, by=item.resolved_by, at=_utc_minute(item.resolved_at),
                                  resolution=item.resolution, event=item.closing_event)
        now = uow.now()
        uow.worklists.resolve(item_id, resolution=parsed.value, reason=reason, at=now, by=actor.subject)
        uow.audit("worklist.resolved", item.identity_id, None,
                  {"item": item_id, "kind": item.kind, "resolution": parsed.value}, reason, full=True)
        uow.commit()
    return replace(item, resolved_at=now, resolved_by=actor.subject, resolution=parsed.value,
                   resolution_reason=reason)


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
    with ctx.unit_of_work(EXPIRY_JOB) as uow:
        found = uow.worklists.expired_documents(uow.today(), limit=EXPIRY_SCAN_LIMIT)
        for document in found:
            open_item(uow, WorklistKind.DOCUMENT_EXPIRED, document.identity_id,
                      expired_document_outcome(document.document_id), hint=Hint.NEW_DOCUMENT,
                      details={"document_id": document.document_id, "type": document.type},
                      source=EXPIRY_JOB.subject)
        uow.commit()
    return len(found)
