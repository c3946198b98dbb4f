"""The append-only audit trail: rows written at commit, read newest first."""

from __future__ import annotations

from sqlmodel import Session


class AuditLog:
    """The append-only audit trail: rows written at commit, read newest first."""

    def __init__(self, session: Session) -> None:
        self._session = session
