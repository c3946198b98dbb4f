"""Repository of the INSi call journal (insi_call): append and filtered reads. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from app.db.tables import InsiCallRow
from app.domain.insi import InsiCallRecord

INSI_CALL = InsiCallRow.__table__  # type: ignore[attr-defined]
_INSERT = insert(INSI_CALL)


@dataclass(frozen=True)
class InsiCallFilters:
    """Filters of the journal listing."""

    requested_by: str | None = None
    identity_id: int | None = None
    operation: str | None = None
    outcome: str | None = None
    credential_mode: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class InsiCall:
    """One journal entry: one wire call to INSi (no traits in clear, only a keyed hash)."""

    id: int
    at: datetime
    operation: str
    credential_mode: str
    emitter: str
    requested_by: str
    purpose: str
    identity_id: int | None
    outcome: str
    error_category: str | None
    duration_ms: float
    message_id: str
    traits_hash: str | None


def _values(record: InsiCallRecord) -> dict[str, Any]:
    """The column values of a call (texts cut to their column's length)."""
    return {
        "at": record.at,
        "operation": record.operation.value,
        "credential_mode": record.credential_mode.value,
        "emitter": record.emitter[:200],
        "requested_by": record.requested_by[:200],
        "purpose": record.purpose.value,
        "identity_id": record.identity_id,
        "outcome": record.outcome[:40],
        "error_category": record.error_category.value if record.error_category else None,
        "duration_ms": round(record.duration_ms, 3),
        "message_id": record.message_id[:64],
        "traits_hash": record.traits_hash,
    }


class InsiCallRepository:
    """The journal's rows."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, records: Sequence[InsiCallRecord]) -> None:
        """Append calls in one plain INSERT (nothing reads the rows back)."""
        if records:
            self._session.connection().execute(_INSERT, [_values(r) for r in records])

    def list(self, filters: InsiCallFilters, *, limit: int, offset: int) -> list[InsiCall]:
        """Calls matching the filters, newest first."""
        c = INSI_CALL.c
        query = select(INSI_CALL)
        equals = {
            c.requested_by: filters.requested_by,
            c.identity_id: filters.identity_id,
            c.operation: filters.operation,
            c.outcome: filters.outcome,
            c.credential_mode: filters.credential_mode,
        }
        for column, value in equals.items():
            if value is not None:
                query = query.where(column == value)
        if filters.since is not None:
            query = query.where(c.at >= filters.since)
        if filters.until is not None:
            query = query.where(c.at < filters.until)
        query = query.order_by(c.at.desc(), c.id.desc()).limit(limit).offset(offset)
        return [InsiCall(**row._mapping) for row in self._session.connection().execute(query)]
