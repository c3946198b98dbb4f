"""Merge records: one row per merge, with what an unmerge needs. Flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.db.tables import IdentityMergeRow

MERGE = IdentityMergeRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MergeRecord:
    """A merge as the cell reads it (no trait: ids, who, when, why)."""

    id: int
    survivor_id: int
    absorbed_id: int
    merged_at: datetime
    merged_by: str
    reason: str
    source: str
    ins_id: int | None
    pair_id: int | None
    unmerged_at: datetime | None
    unmerged_by: str | None
    unmerge_reason: str | None


def _record(row: Any) -> MergeRecord:
    return MergeRecord(
        id=row.id, survivor_id=row.survivor_id, absorbed_id=row.absorbed_id, merged_at=row.merged_at,
        merged_by=row.merged_by, reason=row.reason, source=row.source, ins_id=row.ins_id,
        pair_id=row.pair_id, unmerged_at=row.unmerged_at, unmerged_by=row.unmerged_by,
        unmerge_reason=row.unmerge_reason,
    )


class MergeRepository:
    """The ``identity_merge`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _connection(self) -> Connection:
        return self._session.connection()

    def add(self, *, survivor_id: int, absorbed_id: int, at: datetime, by: str, reason: str, source: str,
            ins_id: int | None, pair_id: int | None) -> int:
        """Record a merge; its id."""
        statement = insert(MERGE).values(
            survivor_id=survivor_id, absorbed_id=absorbed_id, merged_at=at, merged_by=by, reason=reason,
            source=source, ins_id=ins_id, pair_id=pair_id,
        ).returning(MERGE.c.id)
        return int(self._connection().execute(statement).scalar_one())

    def standing_for(self, absorbed_id: int) -> MergeRecord | None:
        """The merge that closed this identity and is not undone, if any."""
        statement = select(MERGE).where(MERGE.c.absorbed_id == absorbed_id, MERGE.c.unmerged_at.is_(None))
        row = self._connection().execute(statement).one_or_none()
        return _record(row) if row is not None else None

    def undone(self, merge_id: int, *, at: datetime, by: str, reason: str) -> None:
        """Mark a merge undone."""
        self._connection().execute(
            update(MERGE).where(MERGE.c.id == merge_id).values(unmerged_at=at, unmerged_by=by,
                                                                 unmerge_reason=reason)
        )

    def of_identity(self, identity_id: int) -> list[MergeRecord]:
        """Merges an identity took part in (as survivor or absorbed), newest first."""
        statement = (
            select(MERGE)
            .where(or_(MERGE.c.survivor_id == identity_id, MERGE.c.absorbed_id == identity_id))
            .order_by(MERGE.c.id.desc())
        )
        return [_record(row) for row in self._connection().execute(statement)]
