"""The append-only audit trail: rows written with the commit, read newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlmodel import Session

from app.db.engine import Precompiled
from app.db.tables import AuditEventRow, AuditSealRow

AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]
SEAL = AuditSealRow.__table__  # type: ignore[attr-defined]
_CHAIN_LOCK = 7_274_461  # the PostgreSQL advisory lock of the sealer: one chain, one writer
# How far below the newest sealed row a late commit may still land (ids are taken at insert, rows
# become visible at commit): the sealer looks for unsealed rows from there on.
SEAL_WINDOW = 10_000
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


@dataclass(frozen=True)
class SealHead:
    """The newest seal: its position, the audit row it seals, its hash."""

    seq: int
    audit_id: int
    hash: str


@dataclass(frozen=True)
class SealedRow:
    """A seal and the audit row it seals as it is now (``row`` None: the row is gone)."""

    seq: int
    audit_id: int
    hash: str
    row: dict[str, Any] | None


def _values(row: Any) -> dict[str, Any]:
    return {"id": row.id, "identity_id": row.identity_id, "at": row.at, "actor": row.actor,
            "roles": row.roles, "action": row.action, "before": row.before, "after": row.after,
            "reason": row.reason}


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

    # -- the hash chain (app.domain.audit_chain) ------------------------------------------------
    def lock_chain(self) -> None:
        """Take the sealer's lock until the end of the transaction (PostgreSQL; SQLite has one writer)."""
        connection = self._session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})

    def seal_head(self) -> SealHead | None:
        """The newest seal, if any."""
        row = self._session.connection().execute(select(SEAL).order_by(SEAL.c.seq.desc()).limit(1)).first()
        return SealHead(row.seq, row.audit_id, row.hash) if row is not None else None

    def unsealed(self, above: int, limit: int) -> list[dict[str, Any]]:
        """Audit rows with an id above ``above`` and no seal, in id order."""
        sealed = select(SEAL.c.audit_id).where(SEAL.c.audit_id > above)
        stmt = (select(AUDIT).where(AUDIT.c.id > above, AUDIT.c.id.not_in(sealed))
                .order_by(AUDIT.c.id).limit(limit))
        return [_values(r) for r in self._session.connection().execute(stmt)]

    def add_seals(self, seals: Sequence[tuple[int, str]], at: datetime) -> None:
        """Append seals (audit id, hash) in chain order."""
        if seals:
            self._session.connection().execute(
                insert(SEAL), [{"audit_id": a, "hash": h, "sealed_at": at} for a, h in seals])

    def chain(self, after_seq: int, limit: int) -> list[SealedRow]:
        """Seals after ``after_seq`` in chain order, each with its audit row as it is now."""
        stmt = (select(SEAL.c.seq, SEAL.c.audit_id, SEAL.c.hash, AUDIT)
                .outerjoin(AUDIT, AUDIT.c.id == SEAL.c.audit_id)
                .where(SEAL.c.seq > after_seq).order_by(SEAL.c.seq).limit(limit))
        return [SealedRow(r.seq, r.audit_id, r.hash, _values(r) if r.id is not None else None)
                for r in self._session.connection().execute(stmt)]

    def unsealed_summary(self) -> tuple[int, int | None, datetime | None]:
        """Audit rows without a seal: how many, the lowest id and the oldest time among them."""
        sealed = select(SEAL.c.audit_id)
        stmt = select(func.count(), func.min(AUDIT.c.id), func.min(AUDIT.c.at)).where(
            AUDIT.c.id.not_in(sealed))
        count, lowest, oldest = self._session.connection().execute(stmt).one()
        return int(count), lowest, oldest
