"""Identity links (PAM FR A24 / A37): one row per link, ended by an unlink. Flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.db.tables import IdentityLinkRow

LINK = IdentityLinkRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LinkRecord:
    """A link as the cell reads it (no trait: ids, who, when, why)."""

    id: int
    low_id: int
    high_id: int
    linked_at: datetime
    linked_by: str
    reason: str
    source: str
    unlinked_at: datetime | None
    unlinked_by: str | None
    unlink_reason: str | None

    def other(self, identity_id: int) -> int:
        """The identity linked with ``identity_id``."""
        return self.high_id if identity_id == self.low_id else self.low_id


def _record(row: Any) -> LinkRecord:
    return LinkRecord(
        id=row.id, low_id=row.low_id, high_id=row.high_id, linked_at=row.linked_at, linked_by=row.linked_by,
        reason=row.reason, source=row.source, unlinked_at=row.unlinked_at, unlinked_by=row.unlinked_by,
        unlink_reason=row.unlink_reason,
    )


class LinkRepository:
    """The ``identity_link`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _connection(self) -> Connection:
        return self._session.connection()

    def add(self, low_id: int, high_id: int, *, at: datetime, by: str, reason: str, source: str) -> int:
        """Record a link (``low_id < high_id``); its id."""
        statement = insert(LINK).values(
            low_id=low_id, high_id=high_id, linked_at=at, linked_by=by, reason=reason, source=source,
        ).returning(LINK.c.id)
        return int(self._connection().execute(statement).scalar_one())

    def standing(self, low_id: int, high_id: int) -> LinkRecord | None:
        """The standing link of a pair (low id first), if any."""
        statement = select(LINK).where(LINK.c.low_id == low_id, LINK.c.high_id == high_id,
                                       LINK.c.unlinked_at.is_(None))
        row = self._connection().execute(statement).one_or_none()
        return _record(row) if row is not None else None

    def ended(self, link_id: int, *, at: datetime, by: str, reason: str) -> None:
        """Mark a link ended (unlinked)."""
        self._connection().execute(
            update(LINK).where(LINK.c.id == link_id).values(unlinked_at=at, unlinked_by=by,
                                                               unlink_reason=reason)
        )

    def of_identity(self, identity_id: int) -> list[LinkRecord]:
        """The links of an identity, standing and ended, newest first."""
        statement = (
            select(LINK)
            .where(or_(LINK.c.low_id == identity_id, LINK.c.high_id == identity_id))
            .order_by(LINK.c.id.desc())
        )
        return [_record(row) for row in self._connection().execute(statement)]
