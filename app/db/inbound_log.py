"""The inbound log (sender + MSH-10 -> the ACK sent) and the quarantine of refused messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from app.db.hl7_tables import InboundMessageRow, QuarantineRow

INBOUND_MESSAGE = InboundMessageRow.__table__  # type: ignore[attr-defined]
QUARANTINE = QuarantineRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredAnswer:
    """The ACK already sent for a sender's MSH-10, and the digest of the content it answered."""

    ack: str
    ack_code: str
    identity_id: int | None
    digest: str | None  # None: stored before digests were kept (answers any content)


@dataclass(frozen=True)
class QuarantinedMessage:
    """A refused message kept for an operator: its bytes, why, and what became of it."""

    id: int
    sender: str
    control_id: str
    received_at: datetime
    raw: bytes
    error_code: str
    error_field: str | None
    error_text: str
    state: str
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


def _quarantined(row: Any) -> QuarantinedMessage:
    return QuarantinedMessage(
        row.id or 0, row.sender, row.control_id, row.received_at, bytes(row.raw), row.error_code,
        row.error_field, row.error_text, row.state, row.resolved_at, row.resolved_by, row.note,
    )


def answer_row(
    sender: str, control_id: str, event: str, at: datetime, ack: str, identity_id: int, digest: str | None
) -> dict[str, Any]:
    """The log row of an applied message (AA), inserted with the commit (``insert_at_commit``)."""
    return {
        "sender": sender,
        "control_id": control_id,
        "event": event,
        "received_at": at,
        "ack_code": "AA",
        "ack": ack,
        "identity_id": identity_id,
        "content_digest": digest,
    }


class InboundLog:
    """What was answered to which (sender, MSH-10), and the quarantine."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def answer(self, sender: str, control_id: str) -> StoredAnswer | None:
        """The ACK already sent for this sender's MSH-10, if any."""
        row = self._session.execute(
            select(INBOUND_MESSAGE.c.ack, INBOUND_MESSAGE.c.ack_code, INBOUND_MESSAGE.c.identity_id,
                   INBOUND_MESSAGE.c.content_digest)
            .where(INBOUND_MESSAGE.c.sender == sender, INBOUND_MESSAGE.c.control_id == control_id)
        ).first()
        return StoredAnswer(*row) if row is not None else None

    def quarantine(
        self, *, sender: str, control_id: str, event: str, at: datetime, raw: bytes, error_code: str,
        error_field: str, error_text: str, ack: str | None, digest: str | None,
    ) -> int:
        """Keep a refused message; with ``ack``, its AE is also the answer to its MSH-10."""
        item = QuarantineRow(sender=sender, control_id=control_id, received_at=at, raw=raw,
                             error_code=error_code, error_field=error_field, error_text=error_text)
        self._session.add(item)
        self._session.flush()
        assert item.id is not None
        if ack is not None and control_id:
            self._session.add(InboundMessageRow(
                sender=sender, control_id=control_id, event=event, received_at=at, ack_code="AE", ack=ack,
                quarantine_id=item.id, content_digest=digest,
            ))
        return item.id

    def is_quarantined(self, sender: str, control_id: str, raw: bytes) -> bool:
        """Whether these very bytes are already in quarantine, still open."""
        found = self._session.execute(
            select(QUARANTINE.c.id).where(
                QUARANTINE.c.sender == sender, QUARANTINE.c.control_id == control_id,
                QUARANTINE.c.state == "open", QUARANTINE.c.raw == raw,
            ).limit(1)
        ).first()
        return found is not None

    def quarantined(self, item_id: int, *, for_update: bool = False) -> QuarantinedMessage | None:
        """One quarantined message."""
        stmt = select(QUARANTINE).where(QUARANTINE.c.id == item_id)
        row = self._session.execute(stmt.with_for_update() if for_update else stmt).first()
        return _quarantined(row) if row is not None else None

    def quarantined_list(self, state: str | None, *, limit: int, offset: int) -> list[QuarantinedMessage]:
        """Quarantined messages (of one state), oldest first."""
        stmt = select(QUARANTINE)
        if state:
            stmt = stmt.where(QUARANTINE.c.state == state)
        rows = self._session.execute(stmt.order_by(QUARANTINE.c.id).limit(limit).offset(offset))
        return [_quarantined(r) for r in rows]

    def close_quarantined(self, item_id: int, *, state: str, at: datetime, by: str, note: str) -> None:
        """Mark a quarantined message re-run or discarded."""
        row = self._session.get(QuarantineRow, item_id)
        assert row is not None
        row.state, row.resolved_at, row.resolved_by, row.note = state, at, by, note
        self._session.add(row)
        self._session.flush()

    def forget_answer(self, quarantine_id: int) -> None:
        """Forget the AE stored for a quarantined message (re-run: it gets a new answer)."""
        self._session.execute(
            delete(INBOUND_MESSAGE).where(INBOUND_MESSAGE.c.quarantine_id == quarantine_id)
        )
