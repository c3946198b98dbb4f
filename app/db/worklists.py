"""Identitovigilance worklist items: open (one per cause), repeat, close, list, count.

A worklist item is open while ``open_key`` is set (``app.domain.worklist.open_key``: one open item
per cause, a unique index); closing it clears the key. ``open`` is one atomic statement on both
engines (insert, or one more occurrence of the open item of the same cause): it is on the HL7 and
desk hot paths. Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, cast, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.db.engine import Precompiled, among
from app.db.tables import IdentityDocumentRow, IdentityRow, WorklistItemRow
from app.domain.worklist import (
    AUTOMATIC,
    EXPIRED_DOCUMENT_PREFIX,
    ClosingEvent,
    Hint,
    WorklistKind,
    open_key,
)

WORKLIST_ITEM = WorklistItemRow.__table__  # type: ignore[attr-defined]
# The items ``open_many`` just wrote, by open key: planned for each call's own keys (prepare=False).
# Once psycopg prepared it (after 5 runs), PostgreSQL kept a generic plan made while worklist_item
# was nearly empty (a first scan's first chunks): a sequential scan whose cost grew chunk after
# chunk, 0.7 s a chunk at 1M identities (docs/performance.md, "Duplicates").
_OPENED_BY_KEY = Precompiled(
    select(WORKLIST_ITEM.c.id, WORKLIST_ITEM.c.occurrences, WORKLIST_ITEM.c.open_key).where(
        WORKLIST_ITEM.c.open_key == any_(bindparam("keys", type_=ARRAY(WORKLIST_ITEM.c.open_key.type)))),
    prepare=False,
)
IDENTITY = IdentityRow.__table__  # type: ignore[attr-defined]
IDENTITY_DOCUMENT = IdentityDocumentRow.__table__  # type: ignore[attr-defined]
_LATEST = ("outcome", "hint", "details", "other_identity_id", "last_occurred_at")


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


@dataclass(frozen=True)
class Opened:
    """The open item of a cause after ``open``: its id and how many times its cause occurred."""

    id: int
    occurrences: int


@dataclass(frozen=True)
class NewItem:
    """An item to open with ``open_many``."""

    identity_id: int
    outcome: str
    hint: Hint | None = None
    other_identity_id: int | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Closed:
    """An item closed by an event."""

    id: int
    kind: str


@dataclass(frozen=True)
class ExpiredDocument:
    """A high-trust document past its expiry date, of a VALI/QUAL identity, with no item yet."""

    document_id: int
    identity_id: int
    type: str


def _item(row: Any) -> WorklistItem:
    return WorklistItem(
        id=row.id or 0, kind=row.kind, identity_id=row.identity_id, other_identity_id=row.other_identity_id,
        outcome=row.outcome, hint=row.hint, details=dict(row.details or {}), source=row.source,
        created_at=row.created_at, created_by=row.created_by, resolved_at=row.resolved_at,
        resolved_by=row.resolved_by, resolution=row.resolution, resolution_reason=row.resolution_reason,
        occurrences=row.occurrences, last_occurred_at=row.last_occurred_at or row.created_at,
        closing_event=row.closing_event,
    )


def _upsert(dialect_insert: Any) -> Any:
    """INSERT, or one more occurrence of the open item of the same cause (atomic on both engines)."""
    stmt = dialect_insert(WORKLIST_ITEM)
    return stmt.on_conflict_do_update(
        index_elements=[WORKLIST_ITEM.c.open_key],
        set_={"occurrences": WORKLIST_ITEM.c.occurrences + 1, **{c: stmt.excluded[c] for c in _LATEST}},
    )


_OPEN = {name: _upsert(dialect).returning(WORKLIST_ITEM.c.id, WORKLIST_ITEM.c.occurrences)
         for name, dialect in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
# Many items: one executemany without RETURNING (pipelined on PostgreSQL), then the items by key.
_OPEN_MANY = {name: Precompiled(_upsert(dialect), by_keys=True)
              for name, dialect in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}


class WorklistRepository:
    """Identitovigilance worklist items: open (one per cause), repeat, close, list, count."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def open(
        self, kind: WorklistKind, identity_id: int, outcome: str, *, hint: Hint | None,
        other_identity_id: int | None, details: dict[str, Any] | None, source: str, at: datetime, by: str,
    ) -> Opened:
        """Open an item, or count one more occurrence of the open item of the same cause (latest
        outcome, hint, details and other identity kept; same id). One statement."""
        connection = self._session.connection()
        item_id, occurrences = connection.execute(_OPEN[connection.dialect.name], {
            "kind": kind.value, "identity_id": identity_id, "other_identity_id": other_identity_id,
            "outcome": outcome, "hint": hint.value if hint else None, "details": details or {},
            "source": source,
            "created_at": at, "created_by": by, "last_occurred_at": at,
            "open_key": open_key(kind, identity_id, outcome),
        }).one()
        return Opened(int(item_id), int(occurrences))

    def open_many(self, kind: WorklistKind, items: list[NewItem], *, source: str, at: datetime,
                  by: str) -> list[Opened]:
        """``open`` for many items of one kind in one multi-row statement (a scan's pairs), in order."""
        if not items:
            return []
        connection = self._session.connection()
        rows = [{
            "kind": kind.value, "identity_id": item.identity_id, "other_identity_id": item.other_identity_id,
            "outcome": item.outcome, "hint": item.hint.value if item.hint else None,
            "details": item.details or {},
            "source": source, "created_at": at, "created_by": by, "last_occurred_at": at, "occurrences": 1,
            "open_key": open_key(kind, item.identity_id, item.outcome),
        } for item in items]
        _OPEN_MANY[connection.dialect.name].execute(connection, rows)
        keys = [row["open_key"] for row in rows]
        item = WORKLIST_ITEM.c
        if connection.dialect.name == "postgresql":
            stored = _OPENED_BY_KEY.execute(connection, {"keys": keys})
        else:
            stored = connection.execute(select(item.id, item.occurrences, item.open_key)
                                        .where(among(connection, item.open_key, keys)))
        found = {key: Opened(int(item_id), int(occurrences)) for item_id, occurrences, key in stored}
        return [found[key] for key in keys]

    def close(
        self, identity_id: int, kinds: Iterable[WorklistKind], event: ClosingEvent, *, outcome: str | None,
        at: datetime, by: str,
    ) -> list[Closed]:
        """Close the identity's open items of these kinds (of this outcome when given), by the event;
        the closed items, by id."""
        stmt = (
            update(WORKLIST_ITEM)
            .where(WORKLIST_ITEM.c.identity_id == identity_id, WORKLIST_ITEM.c.resolved_at.is_(None),
                   WORKLIST_ITEM.c.kind.in_(sorted(k.value for k in kinds)))
            .values(resolved_at=at, resolved_by=by, resolution=AUTOMATIC, closing_event=event.value,
                    open_key=None)
            .returning(WORKLIST_ITEM.c.id, WORKLIST_ITEM.c.kind)
        )
        if outcome is not None:
            stmt = stmt.where(WORKLIST_ITEM.c.outcome == outcome)
        closed = self._session.connection().execute(stmt).all()
        return [Closed(item_id, kind) for item_id, kind in sorted(closed)]

    def open_counts(self) -> dict[str, int]:
        """Open items per kind (kinds with none are absent)."""
        item = WORKLIST_ITEM.c
        rows = self._session.connection().execute(
            select(item.kind, func.count()).where(item.resolved_at.is_(None)).group_by(item.kind)
        ).all()
        return {kind: int(count) for kind, count in rows}

    def of_kind(
        self, kind: WorklistKind, *, include_resolved: bool, limit: int, offset: int,
        identity_id: int | None = None, opened_from: datetime | None = None,
        opened_before: datetime | None = None,
    ) -> list[WorklistItem]:
        """Items of one kind (open ones only unless ``include_resolved``), oldest first; optionally
        only those of one identity (either side) or opened in ``[opened_from, opened_before)``."""
        item = WORKLIST_ITEM.c
        stmt = select(WORKLIST_ITEM).where(item.kind == kind.value)
        if not include_resolved:
            stmt = stmt.where(item.resolved_at.is_(None))
        if identity_id is not None:
            stmt = stmt.where(or_(item.identity_id == identity_id, item.other_identity_id == identity_id))
        if opened_from is not None:
            stmt = stmt.where(item.created_at >= opened_from)
        if opened_before is not None:
            stmt = stmt.where(item.created_at < opened_before)
        stmt = stmt.order_by(item.id).limit(limit).offset(offset)
        return [_item(r) for r in self._session.connection().execute(stmt)]

    def get_for_update(self, item_id: int) -> WorklistItem | None:
        """One item, locked until the end of the transaction (PostgreSQL)."""
        stmt = select(WORKLIST_ITEM).where(WORKLIST_ITEM.c.id == item_id).with_for_update()
        row = self._session.connection().execute(stmt).one_or_none()
        return _item(row) if row is not None else None

    def resolve(self, item_id: int, *, resolution: str, reason: str, at: datetime, by: str) -> None:
        """Close an item by a person's resolution (the item is locked: ``get_for_update``)."""
        self._session.connection().execute(
            update(WORKLIST_ITEM).where(WORKLIST_ITEM.c.id == item_id).values(
                resolved_at=at, resolved_by=by, open_key=None, resolution=resolution,
                resolution_reason=reason,
            )
        )

    def expired_documents(self, today: date, *, limit: int) -> list[ExpiredDocument]:
        """High-trust documents, not withdrawn, expired before ``today``, of VALI/QUAL identities,
        that no document_expired item names yet (at most ``limit``)."""
        item, document, identity = WORKLIST_ITEM.c, IDENTITY_DOCUMENT.c, IDENTITY.c
        already = select(item.id).where(
            item.kind == WorklistKind.DOCUMENT_EXPIRED.value,
            item.outcome == literal(EXPIRED_DOCUMENT_PREFIX, String) + cast(document.id, String),
        ).exists()
        stmt = select(document.id, document.identity_id, document.type).join(
            IDENTITY, identity.id == document.identity_id).where(
            document.expires_on < today, document.withdrawn_at.is_(None), document.high_trust,
            identity.status.in_(("VALI", "QUAL")), ~already)
        found = self._session.connection().execute(stmt.limit(limit)).all()
        return [ExpiredDocument(doc_id, identity_id, doc_type) for doc_id, identity_id, doc_type in found]
