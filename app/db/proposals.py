"""INSi proposals shown to the desk, bound to the identity version they were made for.

Flushes, never commits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from app.db.tables import InsiProposalRow

INSI_PROPOSAL = InsiProposalRow.__table__  # type: ignore[attr-defined]
_INSERT = insert(INSI_PROPOSAL)


@dataclass(frozen=True)
class Proposal:
    """An INSi answer proposed to the desk: open until accepted, rejected or expired."""

    id: str
    identity_id: int
    identity_version: int
    answer: dict[str, Any]
    created_by: str
    created_at: datetime
    expires_at: datetime
    status: str = "open"
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


def _proposal(row: Any) -> Proposal:
    return Proposal(
        id=row.id, identity_id=row.identity_id, identity_version=row.identity_version, answer=row.answer,
        created_by=row.created_by, created_at=row.created_at, expires_at=row.expires_at, status=row.status,
        decided_by=row.decided_by, decided_at=row.decided_at, reason=row.reason,
    )


class ProposalRepository:
    """INSi proposals shown to the desk, bound to the identity version they were made for."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, proposal: Proposal) -> None:
        """Store a new proposal."""
        self._session.connection().execute(_INSERT, asdict(proposal))

    def get_for_update(self, proposal_id: str) -> Proposal | None:
        """One proposal, locked until the end of the transaction (PostgreSQL)."""
        stmt = select(INSI_PROPOSAL).where(INSI_PROPOSAL.c.id == proposal_id).with_for_update()
        row = self._session.connection().execute(stmt).one_or_none()
        return _proposal(row) if row is not None else None

    def decide(
        self, proposal_id: str, status: str, *, by: str, at: datetime, reason: str | None = None
    ) -> None:
        """Record the desk's decision (``accepted`` or ``rejected``) on a proposal it holds locked."""
        values: dict[str, Any] = {"status": status, "decided_by": by, "decided_at": at}
        if reason is not None:
            values["reason"] = reason
        self._session.connection().execute(
            update(INSI_PROPOSAL).where(INSI_PROPOSAL.c.id == proposal_id).values(**values)
        )
