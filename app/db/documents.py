"""Identity document checks (RNIV EXI SI 10): recorded, withdrawn, set aside, read as domain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from app.db.tables import IdentityDocumentRow
from app.domain.documents import DocumentCheck

DOCUMENT = IdentityDocumentRow.__table__  # type: ignore[attr-defined]


def document_check(row: Any) -> DocumentCheck:
    """A document row as a domain value."""
    return DocumentCheck(
        row.id or 0, row.identity_id, row.type, row.high_trust, row.checked_by, row.checked_at,
        row.expires_on, row.withdrawn_at, row.withdrawn_reason, row.no_expiry_printed,
    )


class DocumentRepository:
    """The document checks of identities (no statement on identity rows)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self, identity_id: int, type_code: str, *, high_trust: bool, checked_by: str, checked_at: datetime,
        expires_on: date | None, no_expiry_printed: bool,
    ) -> DocumentCheck:
        """Record a document check."""
        row = IdentityDocumentRow(
            identity_id=identity_id, type=type_code, high_trust=high_trust, checked_by=checked_by,
            checked_at=checked_at, expires_on=expires_on, no_expiry_printed=no_expiry_printed,
        )
        self._session.add(row)
        self._session.flush()
        return document_check(row)

    def withdraw(
        self, identity_id: int, document_id: int, *, at: datetime, by: str, reason: str
    ) -> DocumentCheck | None:
        """Withdraw a standing document check of an identity; None when there is none by that id."""
        row = self._session.get(IdentityDocumentRow, document_id, with_for_update=True)
        if row is None or row.identity_id != identity_id or row.withdrawn_at is not None:
            return None
        row.withdrawn_at, row.withdrawn_by, row.withdrawn_reason = at, by, reason
        self._session.add(row)
        self._session.flush()
        return document_check(row)

    def of_identity(self, identity_id: int) -> list[DocumentCheck]:
        """Every document check of an identity, newest first."""
        stmt = select(DOCUMENT).where(DOCUMENT.c.identity_id == identity_id).order_by(DOCUMENT.c.id.desc())
        return [document_check(r) for r in self._session.execute(stmt)]

    def latest(self, identity_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The latest standing high-trust document check of each identity (type, expiry), one query."""
        if not identity_ids:
            return {}
        rows = self._session.execute(
            select(DOCUMENT.c.identity_id, DOCUMENT.c.type, DOCUMENT.c.expires_on)
            .where(DOCUMENT.c.identity_id.in_(identity_ids), DOCUMENT.c.withdrawn_at.is_(None),
                   DOCUMENT.c.high_trust)
            .order_by(DOCUMENT.c.id)
        )
        return {
            row.identity_id: {
                "type": row.type,
                "expires_on": row.expires_on.isoformat() if row.expires_on else None,
            }
            for row in rows
        }

    def set_aside(self, identity_id: int, actor: str, reason: str, now: datetime) -> None:
        """Withdraw every standing document check of an identity (DOUT/FICT, strict traits changed)."""
        self._session.execute(
            update(DOCUMENT)
            .where(DOCUMENT.c.identity_id == identity_id, DOCUMENT.c.withdrawn_at.is_(None))
            .values(withdrawn_at=now, withdrawn_by=actor, withdrawn_reason=reason)
        )
