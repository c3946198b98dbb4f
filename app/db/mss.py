"""MSSanté messages: stored at acceptance, claimed and marked by the SMTP worker, read by operators.

The message row is its own durable queue item: ``pending`` (waiting, ``available_at``), ``sending``
(claimed with a lease; a worker that dies leaves it to be claimed again once the lease expires),
``sent`` (the submission server took it), ``failed`` (refused for good), ``dead`` (temporary
failures up to the limit; an operator may queue it again). Claims use ``FOR UPDATE SKIP LOCKED``
on PostgreSQL (several workers); SQLite has one writer at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlmodel import Session

from app.db.mss_tables import MssMessageRow, MssRecipientRow

MESSAGE = MssMessageRow.__table__  # type: ignore[attr-defined]
RECIPIENT = MssRecipientRow.__table__  # type: ignore[attr-defined]
PENDING, SENDING, SENT, FAILED, DEAD = "pending", "sending", "sent", "failed", "dead"
MESSAGE_STATES = (PENDING, SENDING, SENT, FAILED, DEAD)
RECIPIENT_STATUSES = ("pending", "sent", "delivered", "failed", "read", "integration_error")


def _utc(moment: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite gives it back naive)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class NewMessage:
    """A mail to store and send."""

    tracking_id: str
    message_id: str
    identity_id: int
    document_unique_id: str
    kind: str
    action: str
    ins_sent: bool
    cda: bool
    read_receipt: bool
    sender: str
    mail: bytes
    created_by: str


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient as operators see it."""

    address: str
    status: str
    reason: str | None
    updated_at: datetime


@dataclass(frozen=True)
class MessageView:
    """A message as operators see it: ids, state and recipients; never the mail's content."""

    tracking_id: str
    message_id: str
    identity_id: int
    document_unique_id: str
    kind: str
    action: str
    ins_sent: bool
    cda: bool
    read_receipt: bool
    size: int
    state: str
    attempts: int
    created_at: datetime
    created_by: str
    sent_at: datetime | None
    available_at: datetime
    last_error: str | None
    recipients: tuple[RecipientStatus, ...]


@dataclass(frozen=True)
class ClaimedMail:
    """A claimed message, ready to submit to its pending recipients."""

    id: int
    tracking_id: str
    sender: str
    recipients: tuple[str, ...]
    mail: bytes
    attempts: int  # this attempt included


def _ready(now: datetime) -> Any:
    return or_(
        and_(MESSAGE.c.state == PENDING, MESSAGE.c.available_at <= now),
        and_(MESSAGE.c.state == SENDING, MESSAGE.c.lease_until < now),
    )


class MssRepository:
    """The MSSanté messages of one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- acceptance ----------------------------------------------------------------------------
    def add(self, message: NewMessage, recipients: Sequence[str], now: datetime) -> int:
        """Store a message and its recipients (pending, available now); returns its row id."""
        values = {
            **message.__dict__,
            "size": len(message.mail),
            "state": PENDING,
            "attempts": 0,
            "available_at": now,
            "created_at": now,
        }
        row_id: int = self._session.execute(
            insert(MESSAGE).values(**values).returning(MESSAGE.c.id)
        ).scalar_one()
        self._session.execute(
            insert(RECIPIENT),
            [
                {"message_id": row_id, "position": i, "address": a, "status": "pending", "updated_at": now}
                for i, a in enumerate(recipients, start=1)
            ],
        )
        return row_id

    # -- reading -------------------------------------------------------------------------------
    def get(self, tracking_id: str) -> MessageView | None:
        """A message by tracking id, with its recipients."""
        row = self._session.execute(select(MESSAGE).where(MESSAGE.c.tracking_id == tracking_id)).first()
        return None if row is None else self._views([row])[0]

    def search(
        self,
        *,
        state: str | None = None,
        identity_id: int | None = None,
        recipient_status: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[MessageView]:
        """Messages newest first, filtered by state, identity, a recipient's status, creation time."""
        stmt = select(MESSAGE)
        if state:
            stmt = stmt.where(MESSAGE.c.state == state)
        if identity_id is not None:
            stmt = stmt.where(MESSAGE.c.identity_id == identity_id)
        if since is not None:
            stmt = stmt.where(MESSAGE.c.created_at >= since)
        if recipient_status:
            stmt = stmt.where(
                MESSAGE.c.id.in_(select(RECIPIENT.c.message_id).where(RECIPIENT.c.status == recipient_status))
            )
        rows = self._session.execute(stmt.order_by(MESSAGE.c.id.desc()).limit(limit).offset(offset)).all()
        return self._views(rows)

    def _views(self, rows: Sequence[Any]) -> list[MessageView]:
        by_message: dict[int, list[RecipientStatus]] = {r.id: [] for r in rows}
        if by_message:
            for r in self._session.execute(
                select(RECIPIENT)
                .where(RECIPIENT.c.message_id.in_(list(by_message)))
                .order_by(RECIPIENT.c.message_id, RECIPIENT.c.position)
            ):
                by_message[r.message_id].append(
                    RecipientStatus(r.address, r.status, r.reason, _utc(r.updated_at) or r.updated_at)
                )
        return [
            MessageView(
                r.tracking_id,
                r.message_id,
                r.identity_id,
                r.document_unique_id,
                r.kind,
                r.action,
                r.ins_sent,
                r.cda,
                r.read_receipt,
                r.size,
                r.state,
                r.attempts,
                _utc(r.created_at) or r.created_at,
                r.created_by,
                _utc(r.sent_at),
                _utc(r.available_at) or r.available_at,
                r.last_error,
                tuple(by_message[r.id]),
            )
            for r in rows
        ]

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Messages per state and recipients per status (for /metrics)."""
        messages = {s: 0 for s in MESSAGE_STATES}
        for state, count in self._session.execute(
            select(MESSAGE.c.state, func.count()).group_by(MESSAGE.c.state)
        ):
            messages[state] = count
        recipients = {s: 0 for s in RECIPIENT_STATUSES}
        for status, count in self._session.execute(
            select(RECIPIENT.c.status, func.count()).group_by(RECIPIENT.c.status)
        ):
            recipients[status] = count
        return messages, recipients

    # -- the SMTP worker -----------------------------------------------------------------------
    def claim(self, worker_id: str, now: datetime, limit: int, lease_seconds: float) -> list[ClaimedMail]:
        """Lease up to ``limit`` ready messages (pending and due, or sending with an expired lease).

        The attempt is counted at the claim: a message whose sending kills its worker still
        reaches the dead-letter limit.
        """
        connection = self._session.connection()
        lock = (
            select(MESSAGE.c.id)
            .where(_ready(now))
            .order_by(MESSAGE.c.available_at, MESSAGE.c.id)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            lock = lock.with_for_update(skip_locked=True)
        wanted = list(connection.execute(lock).scalars())
        if not wanted:
            return []
        lease_until = now + timedelta(seconds=lease_seconds)
        connection.execute(
            update(MESSAGE)
            .where(MESSAGE.c.id.in_(wanted), _ready(now))
            .values(
                state=SENDING,
                lease_until=lease_until,
                claimed_by=worker_id[:64],
                attempts=MESSAGE.c.attempts + 1,
            )
        )
        rows = connection.execute(
            select(MESSAGE.c.id, MESSAGE.c.tracking_id, MESSAGE.c.sender, MESSAGE.c.mail, MESSAGE.c.attempts)
            .where(
                MESSAGE.c.id.in_(wanted), MESSAGE.c.state == SENDING, MESSAGE.c.claimed_by == worker_id[:64]
            )
            .order_by(MESSAGE.c.id)
        ).all()
        pending: dict[int, list[str]] = {r.id: [] for r in rows}
        if pending:
            for r in connection.execute(
                select(RECIPIENT.c.message_id, RECIPIENT.c.address)
                .where(RECIPIENT.c.message_id.in_(list(pending)), RECIPIENT.c.status == "pending")
                .order_by(RECIPIENT.c.message_id, RECIPIENT.c.position)
            ):
                pending[r.message_id].append(r.address)
        return [
            ClaimedMail(r.id, r.tracking_id, r.sender, tuple(pending[r.id]), bytes(r.mail), r.attempts)
            for r in rows
        ]

    def _changed(self, statement: Any) -> int:
        """Run an UPDATE; how many rows it changed."""
        result: Any = self._session.execute(statement)
        return int(result.rowcount)

    def _mine(self, row_id: int, worker_id: str) -> Any:
        return and_(
            MESSAGE.c.id == row_id, MESSAGE.c.state == SENDING, MESSAGE.c.claimed_by == worker_id[:64]
        )

    def mark_sent(self, row_id: int, worker_id: str, now: datetime, refused: Mapping[str, str]) -> bool:
        """The server took the mail: accepted recipients ``sent``, refused ones ``failed`` with the reason."""
        done = self._changed(
            update(MESSAGE)
            .where(self._mine(row_id, worker_id))
            .values(state=SENT, sent_at=now, lease_until=None, last_error=None)
        )
        if not done:
            return False
        pending = RECIPIENT.c.status == "pending"
        for address, reason in refused.items():
            self._session.execute(
                update(RECIPIENT)
                .where(RECIPIENT.c.message_id == row_id, RECIPIENT.c.address == address, pending)
                .values(status="failed", reason=reason[:1000], updated_at=now)
            )
        self._session.execute(
            update(RECIPIENT)
            .where(RECIPIENT.c.message_id == row_id, pending)
            .values(status="sent", updated_at=now)
        )
        return True

    def mark_failed(self, row_id: int, worker_id: str, now: datetime, reason: str) -> bool:
        """Refused for good (5xx): the message and its pending recipients ``failed``."""
        done = self._changed(
            update(MESSAGE)
            .where(self._mine(row_id, worker_id))
            .values(state=FAILED, lease_until=None, last_error=reason[:1000])
        )
        if done:
            self._session.execute(
                update(RECIPIENT)
                .where(RECIPIENT.c.message_id == row_id, RECIPIENT.c.status == "pending")
                .values(status="failed", reason=reason[:1000], updated_at=now)
            )
        return bool(done)

    def mark_retry(
        self, row_id: int, worker_id: str, reason: str, *, available_at: datetime | None
    ) -> str | None:
        """A temporary failure: back to ``pending`` at ``available_at``, or ``dead`` when None."""
        state = PENDING if available_at is not None else DEAD
        values: dict[str, Any] = {"state": state, "lease_until": None, "last_error": reason[:1000]}
        if available_at is not None:
            values["available_at"] = available_at
        done = self._changed(update(MESSAGE).where(self._mine(row_id, worker_id)).values(**values))
        return state if done else None

    def give_back(self, row_id: int, worker_id: str) -> None:
        """A claimed message not attempted (the worker is stopping): pending again, attempt not counted."""
        self._session.execute(
            update(MESSAGE)
            .where(self._mine(row_id, worker_id))
            .values(state=PENDING, lease_until=None, attempts=MESSAGE.c.attempts - 1)
        )

    def receipt_target(
        self, tracking_id: str | None, message_id: str | None
    ) -> tuple[str, int, dict[str, tuple[int, str]]] | None:
        """The message a receipt is about (by tracking id, else Message-ID): tracking id, identity id
        and its recipients by lower-case address (recipient row id, status), locked on PostgreSQL."""
        stmt = select(MESSAGE.c.id, MESSAGE.c.tracking_id, MESSAGE.c.identity_id)
        if tracking_id:
            stmt = stmt.where(MESSAGE.c.tracking_id == tracking_id[:36])
        elif message_id:
            stmt = stmt.where(MESSAGE.c.message_id == message_id[:255])
        else:
            return None
        found = self._session.execute(stmt.with_for_update()).first()
        if found is None:
            return None
        rows = self._session.execute(
            select(RECIPIENT.c.id, RECIPIENT.c.address, RECIPIENT.c.status).where(
                RECIPIENT.c.message_id == found.id
            )
        )
        return found.tracking_id, found.identity_id, {r.address.lower(): (r.id, r.status) for r in rows}

    def set_recipient(
        self, recipient_id: int, status: str, reason: str, now: datetime, expected: str
    ) -> bool:
        """Move a recipient to ``status`` if still ``expected`` (a concurrent receipt changes nothing)."""
        return bool(
            self._changed(
                update(RECIPIENT)
                .where(RECIPIENT.c.id == recipient_id, RECIPIENT.c.status == expected)
                .values(status=status, reason=reason[:1000], updated_at=now)
            )
        )

    def requeue(self, tracking_id: str, now: datetime) -> bool:
        """An operator queues a dead letter again (attempts start over)."""
        return bool(
            self._changed(
                update(MESSAGE)
                .where(MESSAGE.c.tracking_id == tracking_id, MESSAGE.c.state == DEAD)
                .values(state=PENDING, attempts=0, available_at=now, lease_until=None)
            )
        )
