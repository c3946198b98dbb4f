"""Repository of the INSi call journal (insi_call): append and filtered reads. Flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from app.db.tables import InsiCallRow
from app.domain.insi import InsiCallRecord

INSI_CALL = InsiCallRow.__table__  # type: ignore[attr-defined]


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


def _row(record: InsiCallRecord) -> InsiCallRow:
    return InsiCallRow(
        at=record.at,
        operation=record.operation.value,
        credential_mode=record.credential_mode.value,
        emitter=record.emitter[:200],
        requested_by=record.requested_by[:200],
        purpose=record.purpose.value,
        identity_id=record.identity_id,
        outcome=record.outcome[:40],
        error_category=record.error_category.value if record.error_category else None,
        duration_ms=round(record.duration_ms, 3),
        message_id=record.message_id[:64],
        traits_hash=record.traits_hash,
    )


def append_calls(connection: Connection, records: list[InsiCallRecord]) -> None:
    """Append calls with plain INSERTs (nothing reads the rows back; no ORM unit of work)."""
    rows = []
    for record in records:
        row = _row(record)
        rows.append({c.name: getattr(row, c.name) for c in INSI_CALL.columns if c.name != "id"})
    if rows:
        connection.execute(insert(INSI_CALL), rows)


class InsiCallRepository:
    """The journal's rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: InsiCallRecord) -> None:
        """Append one call."""
        append_calls(self.session.connection(), [record])

    def list(self, filters: InsiCallFilters, *, limit: int, offset: int) -> list[InsiCallRow]:
        """Calls matching the filters, newest first."""
        query = select(InsiCallRow)
        equals = {
            InsiCallRow.requested_by: filters.requested_by,
            InsiCallRow.identity_id: filters.identity_id,
            InsiCallRow.operation: filters.operation,
            InsiCallRow.outcome: filters.outcome,
            InsiCallRow.credential_mode: filters.credential_mode,
        }
        for column, value in equals.items():
            if value is not None:
                query = query.where(col(column) == value)
        if filters.since is not None:
            query = query.where(col(InsiCallRow.at) >= filters.since)
        if filters.until is not None:
            query = query.where(col(InsiCallRow.at) < filters.until)
        query = (
            query.order_by(col(InsiCallRow.at).desc(), col(InsiCallRow.id).desc()).limit(limit).offset(offset)
        )
        return list(self.session.execute(query).scalars().all())
