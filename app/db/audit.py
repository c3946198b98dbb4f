"""The append-only audit trail: rows written with the commit, read newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from app.db.engine import Precompiled
from app.db.tables import AuditEventRow

AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]
# No RETURNING: pipelined with the COMMIT (engine.commit_with).
_INSERT = Precompiled(insert(AUDIT).inline(), by_keys=True)


@dataclass(frozen=True)
class AuditEvent:
    """One audit event: who (and with which roles), when, what, the values before and after, why."""

    id: int
    at: datetime
    actor: str
    roles: tuple[str, ...]
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


class AuditLog:
    """The audit trail (the database refuses updates and deletes: triggers)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append audit events (column values) in one statement."""
        if rows:
            _INSERT.execute(self._session.connection(), list(rows))

    def trail(self, identity_id: int, *, limit: int, offset: int) -> list[AuditEvent]:
        """The audit trail of an identity, newest first."""
        stmt = (
            select(AUDIT)
            .where(AUDIT.c.identity_id == identity_id)
            .order_by(AUDIT.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            AuditEvent(r.id, r.at, r.actor, tuple(x for x in r.roles.split(",") if x), r.action, r.before,
                       r.after, r.reason)
            for r in self._session.execute(stmt)
        ]
