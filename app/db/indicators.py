"""Read model of the identitovigilance indicators (HAS certification file): counts per status and
attribute, and per calendar month (UTC) the INSi outcomes, worklist items opened and closed, duplicate
pairs found and decided, merges and unmerges, corrections. Reads only; every count is one grouped
statement, so the page costs a handful of statements whatever the size of the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from app.db.identity_rows import IDENTITY
from app.db.tables import (
    AuditEventRow,
    DuplicatePairRow,
    IdentityMergeRow,
    InsiCallRow,
    WorklistItemRow,
)

INSI_CALL = InsiCallRow.__table__  # type: ignore[attr-defined]
WORKLIST = WorklistItemRow.__table__  # type: ignore[attr-defined]
PAIR = DuplicatePairRow.__table__  # type: ignore[attr-defined]
MERGE = IdentityMergeRow.__table__  # type: ignore[attr-defined]
AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]

ATTRIBUTES = ("DOUT", "FICT", "HOMA")
# The audit actions that are corrections of an identity by a person or a job: traits changed after
# creation (identity.updated) and attributes set or removed (app.services.identities).
CORRECTION_ACTIONS = ("identity.updated", "attribute.set", "attribute.removed")
# Open worklist items by age: upper bounds in days (the last bucket has none).
AGE_BUCKETS = (7, 30, 90)


@dataclass(frozen=True)
class MonthCount:
    """How many of one kind of thing happened in one month (``YYYY-MM``, UTC)."""

    month: str
    key: str
    count: int


@dataclass(frozen=True)
class StatusCount:
    """Active identities of one status: in all, and carrying each attribute."""

    status: str
    total: int
    attributes: dict[str, int]


@dataclass(frozen=True)
class ClosedMonth:
    """Worklist items closed in one month, and their mean age at closing in days."""

    month: str
    count: int
    mean_days: float


def _month(column: Any, dialect: str) -> ColumnElement[str]:
    """A timestamp's calendar month in UTC, as ``YYYY-MM``."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    """Seconds from one timestamp to another."""
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")


class IndicatorReadModel:
    """The indicators' counts (no writes)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _run(self, statement: Any) -> Any:
        return self._session.connection().execute(statement)

    @property
    def _dialect(self) -> str:
        return str(self._session.connection().dialect.name)

    def _per_month(self, at: Any, key: Any, since: datetime, until: datetime,
                   *where: Any) -> list[MonthCount]:
        """Rows per month of ``at`` in [since, until) and per ``key`` (a column, or a fixed text)."""
        month = _month(at, self._dialect).label("month")
        if isinstance(key, str):
            stmt = select(month, func.count()).where(at >= since, at < until, *where).group_by(month)
            return [MonthCount(str(m), key, int(n)) for m, n in self._run(stmt)]
        stmt = (select(month, key.label("key"), func.count().label("n"))
                .where(at >= since, at < until, *where).group_by(month, key).order_by(month, key))
        return [MonthCount(str(m), str(k), int(n)) for m, k, n in self._run(stmt)]

    def identities_by_status(self) -> list[StatusCount]:
        """Active identities per status, and per attribute within each status."""
        attributes = [func.sum(case((IDENTITY.c.attributes.like(f"%{a}%"), 1), else_=0)) for a in ATTRIBUTES]
        stmt = (select(IDENTITY.c.status, func.count(), *attributes).where(IDENTITY.c.active)
                .group_by(IDENTITY.c.status))
        return [StatusCount(str(row[0]), int(row[1]),
                            {a: int(row[2 + i] or 0) for i, a in enumerate(ATTRIBUTES)})
                for row in self._run(stmt)]

    def identities_created(self, since: datetime, until: datetime) -> list[MonthCount]:
        """Identities created per month, by their status today (merged ones included)."""
        return self._per_month(IDENTITY.c.created_at, IDENTITY.c.status, since, until)

    def insi_outcomes(self, since: datetime, until: datetime) -> list[MonthCount]:
        """INSi calls per month and outcome (CR 00/01/02 or the error's journal code)."""
        return self._per_month(INSI_CALL.c.at, INSI_CALL.c.outcome, since, until)

    def worklist_opened(self, since: datetime, until: datetime) -> list[MonthCount]:
        """Worklist items opened per month and kind."""
        return self._per_month(WORKLIST.c.created_at, WORKLIST.c.kind, since, until)

    def worklist_closed(self, since: datetime, until: datetime) -> list[ClosedMonth]:
        """Worklist items closed per month, with their mean age at closing."""
        at, dialect = WORKLIST.c.resolved_at, self._dialect
        month = _month(at, dialect).label("month")
        age = func.avg(_seconds_between(WORKLIST.c.created_at, at, dialect))
        stmt = (select(month, func.count(), age).where(at >= since, at < until)
                .group_by(month).order_by(month))
        return [ClosedMonth(str(m), int(n), round(float(s or 0) / 86400, 1)) for m, n, s in self._run(stmt)]

    def worklist_open_ages(self, now: datetime) -> dict[str, int]:
        """Open worklist items by age (``<7``, ``7-30``, ``30-90``, ``>=90`` days)."""
        created = WORKLIST.c.created_at
        bounds = [now - timedelta(days=d) for d in AGE_BUCKETS]
        names = ["<7", "7-30", "30-90", ">=90"]
        bucket = case((created > bounds[0], names[0]), (created > bounds[1], names[1]),
                      (created > bounds[2], names[2]), else_=names[3]).label("bucket")
        stmt = select(bucket, func.count()).where(WORKLIST.c.resolved_at.is_(None)).group_by(bucket)
        found = {str(b): int(n) for b, n in self._run(stmt)}
        return {name: found.get(name, 0) for name in names}

    def duplicate_pairs_found(self, since: datetime, until: datetime) -> list[MonthCount]:
        """Duplicate pairs found per month, by how they were found."""
        return self._per_month(PAIR.c.created_at, PAIR.c.found_by, since, until)

    def duplicate_pairs_decided(self, since: datetime, until: datetime) -> list[MonthCount]:
        """Duplicate pairs set aside per month, by decision (``dismissed``, ``linked``); merges are
        counted from the merges themselves (``merges``), with or without a pair."""
        return self._per_month(PAIR.c.decided_at, PAIR.c.status, since, until,
                               PAIR.c.status.in_(("dismissed", "linked")))

    def merges(self, since: datetime, until: datetime) -> list[MonthCount]:
        """Merges per month (key ``merged``) and unmerges (key ``unmerged``)."""
        merged = self._per_month(MERGE.c.merged_at, "merged", since, until)
        unmerged = self._per_month(MERGE.c.unmerged_at, "unmerged", since, until)
        return sorted(merged + unmerged, key=lambda m: (m.month, m.key))

    def corrections(self, since: datetime, until: datetime) -> list[MonthCount]:
        """Corrections per month, by audit action (traits changed, attribute set or removed)."""
        return self._per_month(AUDIT.c.at, AUDIT.c.action, since, until,
                               AUDIT.c.action.in_(CORRECTION_ACTIONS))
