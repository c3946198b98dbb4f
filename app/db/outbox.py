"""The outbox: rows written in the identity change's transaction, claimed and marked by relays.

Ordering: the rows of one (subscriber, identity) stream are delivered in id order. Only the head
of a stream can be claimed: a row is claimable when no earlier row of its stream is still pending,
being sent, or dead. A dead letter therefore blocks its own stream only. Claiming marks rows
``sending`` with a lease; a relay that dies leaves them to be reclaimed when the lease expires
(PostgreSQL: many relays, ``FOR UPDATE SKIP LOCKED``; SQLite: one relay).

The fan-out (``OutboxSink``) runs in every identity change's transaction; ``OutboxRepository``
serves the relay (claim, marks, leases), the replays and the operators (dead letters, queue figures).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.db.documents import DocumentRepository
from app.db.engine import Precompiled
from app.db.hl7_tables import OutboxMessageRow, SubscriberEventRow, SubscriberRow
from app.db.subscribers import Subscriber
from app.domain.identity import IdentityChange
from app.domain.snapshot import change_snapshot, event_for

PENDING, SENDING, DONE, DEAD, SKIPPED = "pending", "sending", "done", "dead", "skipped"
BLOCKING = (PENDING, SENDING, DEAD)
CLAIM_WINDOWS = 4  # windows of 4 x batch size ready rows a claim looks through for stream heads
OUTBOX = OutboxMessageRow.__table__  # type: ignore[attr-defined]
SUBSCRIBER = SubscriberRow.__table__  # type: ignore[attr-defined]
SUBSCRIBER_EVENT = SubscriberEventRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff and bounds of redelivery."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0
    max_error_attempts: int = 5  # AE answers before the row becomes a dead letter
    lease_seconds: float = 60.0

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff after ``attempts`` failed attempts."""
        return timedelta(seconds=min(self.base_seconds * 2 ** max(attempts - 1, 0), self.max_seconds))


@dataclass(frozen=True)
class Claimed:
    """A claimed row, ready to render and send."""

    id: int
    subscriber_id: int
    identity_id: int
    event: str
    format: str
    kind: str
    snapshot: dict[str, Any]
    attempts: int
    error_attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Failure:
    """Outcome of a failed delivery: ``error`` (AE) counts towards the dead-letter bound."""

    id: int
    reason: str
    is_error_ack: bool


@dataclass(frozen=True)
class OutboxMessage:
    """An outbox row as operators see it: ids and delivery data, not the snapshot (patient traits)."""

    id: int
    subscriber_id: int
    identity_id: int
    event: str
    format: str
    kind: str
    state: str
    attempts: int
    error_attempts: int
    created_at: datetime
    last_error: str | None
    skip_reason: str | None


@dataclass(frozen=True)
class QueueStats:
    """Operations view of one subscriber's queue."""

    subscriber_id: int
    pending: int
    oldest_pending_at: datetime | None
    dead: int


_ENQUEUE_COLUMNS = ["subscriber_id", "identity_id", "event", "format", "kind", "snapshot", "state",
                    "attempts", "error_attempts", "available_at", "created_at"]
# Built once: constructing the INSERT ... SELECT on every identity change cost more client CPU
# than running it. The join on ``subscriber_event`` is the one answer to "does this subscriber
# want this event" (no ORDER BY: order only matters within a (subscriber, identity) stream).
_EVENT = bindparam("event", type_=OUTBOX.c.event.type)
_ENQUEUE_INTERESTED = Precompiled(insert(OUTBOX).from_select(
    _ENQUEUE_COLUMNS,
    select(
        SUBSCRIBER.c.id,
        bindparam("identity_id", type_=OUTBOX.c.identity_id.type),
        _EVENT,
        case((SUBSCRIBER.c.ins_ready, "ins_ready"), else_="legacy"),
        literal("live"),
        bindparam("snapshot", type_=OUTBOX.c.snapshot.type),
        literal(PENDING),
        literal(0),
        literal(0),
        bindparam("now", type_=OUTBOX.c.available_at.type),
        bindparam("now_created", type_=OUTBOX.c.created_at.type),
    )
    .select_from(SUBSCRIBER.join(SUBSCRIBER_EVENT, SUBSCRIBER_EVENT.c.subscriber_id == SUBSCRIBER.c.id))
    .where(SUBSCRIBER.c.enabled, SUBSCRIBER_EVENT.c.event == _EVENT),
))


@dataclass(frozen=True)
class LiveRow:
    """One identity change to announce: ``enqueue_interested`` fans it out to the subscribers."""

    identity_id: int
    event: str
    snapshot: dict[str, Any]


def enqueue_interested(session: Session, changes: Sequence[LiveRow], now: datetime) -> None:
    """One row per enabled subscriber that wants each change's event (no commit).

    Reading the subscribers and writing the rows in the same INSERT ... SELECT saves a round trip
    on every identity change and sees exactly the subscriber set of the change's own transaction;
    several changes go in one executemany (one pipelined round trip on PostgreSQL).
    """
    params = [
        {"identity_id": change.identity_id, "event": change.event, "snapshot": change.snapshot, "now": now,
         "now_created": now}
        for change in changes
    ]
    if params:
        _ENQUEUE_INTERESTED.execute(session.connection(), params)


class OutboxSink:
    """The change sink that writes outbox rows in the use case's transaction."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))

    def identities_changed(
        self, session: Session, changes: Sequence[IdentityChange]
    ) -> Callable[[], None] | None:
        """Snapshots now; then one row per interested subscriber and change (none when nobody
        subscribes), written with the commit."""
        validated = [c.identity.id for c in changes if c.identity.state.document]
        documents = DocumentRepository(session).latest(validated)
        rows = [
            LiveRow(c.identity.id, event_for(c), change_snapshot(c, documents.get(c.identity.id)))
            for c in changes
        ]
        if not rows:
            return None
        now = self.clock()
        return lambda: enqueue_interested(session, rows, now)


def _ready(now: datetime) -> Any:
    """Rows a relay may send now: pending and due, or leased by a relay that did not finish."""
    active = select(SUBSCRIBER.c.id).where(SUBSCRIBER.c.enabled, ~SUBSCRIBER.c.paused)
    return and_(
        OUTBOX.c.state.in_((PENDING, SENDING)),
        or_(
            and_(OUTBOX.c.state == PENDING, OUTBOX.c.available_at <= now),
            and_(OUTBOX.c.state == SENDING, OUTBOX.c.lease_until < now),
        ),
        OUTBOX.c.subscriber_id.in_(active),
    )


def _heads(connection: Connection, pairs: set[tuple[int, int]]) -> set[int]:
    """Id of the first still-open row of each (subscriber, identity) stream (of a superset of ``pairs``).

    Two IN lists rather than a row-value IN, so both columns are index conditions on PostgreSQL.
    """
    stmt = (
        select(func.min(OUTBOX.c.id))
        .where(
            OUTBOX.c.state.in_(BLOCKING),
            OUTBOX.c.subscriber_id.in_({s for s, _ in pairs}),
            OUTBOX.c.identity_id.in_({i for _, i in pairs}),
        )
        .group_by(OUTBOX.c.subscriber_id, OUTBOX.c.identity_id)
    )
    return set(connection.execute(stmt).scalars())


def _mine(relay_id: str) -> Any:
    return and_(OUTBOX.c.state == SENDING, OUTBOX.c.claimed_by == relay_id)


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        row.id, row.subscriber_id, row.identity_id, row.event, row.format, row.kind, row.state, row.attempts,
        row.error_attempts, row.created_at, row.last_error, row.skip_reason,
    )


class OutboxRepository:
    """The outbox rows of one session: claims, marks and leases (relays), replay rows, dead letters
    and queue figures (operators). The fan-out of live changes is ``OutboxSink``'s."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- the relay ---------------------------------------------------------------------------
    def claim(self, relay_id: str, now: datetime, limit: int, lease_seconds: float) -> list[Claimed]:
        """Claim up to ``limit`` stream heads and lease them to this relay.

        Three short statements rather than one correlated query, so that the plan stays cheap
        whatever the table statistics say during a burst: the oldest ready rows (partial index on
        open rows), the head of each of their streams (stream index), then a lock on the ready heads
        (SKIP LOCKED on PostgreSQL: relays never wait for each other nor take the same row). A row is
        taken only if it is still the first open row of its stream, so per-identity order holds.
        """
        connection = self._session.connection()
        wanted = self._stream_heads(connection, now, limit)
        if not wanted:
            return []
        if connection.dialect.name == "postgresql":
            lock = select(OUTBOX.c.id).where(OUTBOX.c.id.in_(wanted), _ready(now)).order_by(OUTBOX.c.id)
            wanted = list(connection.execute(lock.with_for_update(of=OUTBOX, skip_locked=True)).scalars())
        lease_until = now + timedelta(seconds=lease_seconds)
        # Re-checking readiness in the UPDATE keeps a second relay from taking a row just leased.
        connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(wanted), _ready(now))
            .values(state=SENDING, lease_until=lease_until, claimed_by=relay_id)
        )
        rows = connection.execute(
            select(OUTBOX)
            .where(OUTBOX.c.id.in_(wanted), _mine(relay_id), OUTBOX.c.lease_until == lease_until)
            .order_by(OUTBOX.c.id)
        ).all()
        return [
            Claimed(r.id, r.subscriber_id, r.identity_id, r.event, r.format, r.kind, r.snapshot, r.attempts,
                    r.error_attempts, r.created_at)
            for r in rows
        ]

    @staticmethod
    def _stream_heads(connection: Connection, now: datetime, limit: int) -> list[int]:
        """Ids of up to ``limit`` ready rows that head their stream, oldest first."""
        wanted: list[int] = []
        after = 0
        # The oldest ready rows may all belong to streams another relay is sending (their heads
        # are taken, the rest must wait): look a few windows further for free heads.
        for _window in range(CLAIM_WINDOWS):
            candidates = connection.execute(
                select(OUTBOX.c.id, OUTBOX.c.subscriber_id, OUTBOX.c.identity_id)
                .where(_ready(now), OUTBOX.c.id > after)
                .order_by(OUTBOX.c.id)
                .limit(limit * 4)
            ).all()
            if not candidates:
                break
            heads = _heads(connection, {(c.subscriber_id, c.identity_id) for c in candidates})
            wanted += [c.id for c in candidates if c.id in heads][: limit - len(wanted)]
            if len(wanted) >= limit or len(candidates) < limit * 4:
                break
            after = candidates[-1].id
        return wanted

    def mark_done(self, ids: Sequence[int], relay_id: str, now: datetime) -> None:
        """Delivered and acknowledged (AA/CA)."""
        if ids:
            self._session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(ids), _mine(relay_id))
                .values(state=DONE, delivered_at=now, lease_until=None, last_error=None)
            )

    def give_back(self, ids: Sequence[int], relay_id: str) -> None:
        """Return rows this relay claimed but did not send (no attempt counted)."""
        if ids:
            self._session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(ids), _mine(relay_id))
                .values(state=PENDING, lease_until=None)
            )

    def mark_failed(
        self, failures: Sequence[Failure], relay_id: str, now: datetime, policy: RetryPolicy
    ) -> list[int]:
        """Schedule retries with backoff; AE beyond the bound -> dead letter. Returns the new dead ids."""
        dead: list[int] = []
        for failure in failures:
            row = self._session.execute(
                select(OUTBOX.c.attempts, OUTBOX.c.error_attempts).where(
                    OUTBOX.c.id == failure.id, _mine(relay_id)
                )
            ).first()
            if row is None:
                continue
            attempts, errors = row.attempts + 1, row.error_attempts + int(failure.is_error_ack)
            state = DEAD if errors >= policy.max_error_attempts else PENDING
            if state == DEAD:
                dead.append(failure.id)
            self._session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == failure.id)
                .values(
                    state=state,
                    attempts=attempts,
                    error_attempts=errors,
                    lease_until=None,
                    available_at=now + policy.delay(attempts),
                    last_error=failure.reason[:1000],
                )
            )
        return dead

    def release_leases(self, relay_id: str) -> int:
        """Give back the rows a relay is sending (it stops cleanly)."""
        return self._release(and_(OUTBOX.c.state == SENDING, OUTBOX.c.claimed_by == relay_id))

    def release_stale_leases(self) -> int:
        """A relay starts: on SQLite it is the only one, so every lease is stale and given back; on
        PostgreSQL other relays may be sending theirs (a dead relay's leases expire)."""
        if self._session.get_bind().dialect.name != "sqlite":
            return 0
        return self._release(OUTBOX.c.state == SENDING)

    def _release(self, condition: Any) -> int:
        result = self._session.execute(
            update(OUTBOX).where(condition).values(state=PENDING, lease_until=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- replays -----------------------------------------------------------------------------
    def enqueue(
        self, subscriber: Subscriber, items: Sequence[tuple[int, str, dict[str, Any]]], now: datetime,
        kind: str,
    ) -> int:
        """Write (identity id, event, snapshot) rows for one subscriber, in its current format, in one
        statement."""
        constant = {"subscriber_id": subscriber.id, "format": subscriber.format, "kind": kind,
                    "state": PENDING, "attempts": 0, "error_attempts": 0, "available_at": now,
                    "created_at": now}
        values = [
            {**constant, "identity_id": identity_id, "event": event, "snapshot": snapshot}
            for identity_id, event, snapshot in items
        ]
        if values:
            self._session.execute(insert(OUTBOX), values)
        return len(values)

    # -- operations --------------------------------------------------------------------------
    def queue_stats(self) -> list[QueueStats]:
        """Queue depth, oldest pending message and dead letters per subscriber."""
        pending = self._session.execute(
            select(OUTBOX.c.subscriber_id, func.count(), func.min(OUTBOX.c.created_at))
            .where(OUTBOX.c.state.in_((PENDING, SENDING)))
            .group_by(OUTBOX.c.subscriber_id)
        ).all()
        dead = dict(
            self._session.execute(
                select(OUTBOX.c.subscriber_id, func.count()).where(OUTBOX.c.state == DEAD).group_by(
                    OUTBOX.c.subscriber_id
                )
            ).all()
        )
        by_id = {r[0]: (r[1], r[2]) for r in pending}
        return [
            QueueStats(i, *by_id.get(i, (0, None)), dead.get(i, 0)) for i in sorted(set(by_id) | set(dead))
        ]

    def join_stream(self, from_identity: int, into_identity: int) -> int:
        """Move an identity's undelivered rows (pending, being sent or dead) into another
        identity's streams, keeping their ids: a merge's A40, written after them, cannot overtake
        them. The rows already delivered stay where they are; the count moved."""
        stmt = update(OUTBOX).where(OUTBOX.c.identity_id == from_identity,
                                    OUTBOX.c.state.in_(BLOCKING)).values(identity_id=into_identity)
        return int(self._session.connection().execute(stmt).rowcount)

    def dead_letters(self, subscriber_id: int | None, *, limit: int, offset: int) -> list[OutboxMessage]:
        """Dead letters (of one subscriber), oldest first."""
        stmt = select(OUTBOX).where(OUTBOX.c.state == DEAD)
        if subscriber_id is not None:
            stmt = stmt.where(OUTBOX.c.subscriber_id == subscriber_id)
        rows = self._session.execute(stmt.order_by(OUTBOX.c.id).limit(limit).offset(offset))
        return [_message(r) for r in rows]

    def message(self, message_id: int, *, for_update: bool = False) -> OutboxMessage | None:
        """One message (locked for the transaction with ``for_update``)."""
        stmt = select(OUTBOX).where(OUTBOX.c.id == message_id)
        row = self._session.execute(stmt.with_for_update() if for_update else stmt).first()
        return _message(row) if row is not None else None

    def retry(self, message: OutboxMessage, now: datetime) -> OutboxMessage:
        """Send a message again from now (same id, so same MSH-10), with a fresh error budget."""
        self._set(message.id, state=PENDING, error_attempts=0, available_at=now)
        return replace(message, state=PENDING, error_attempts=0)

    def skip(self, message: OutboxMessage, reason: str) -> OutboxMessage:
        """Give up on a message, with the reason: its stream flows again."""
        self._set(message.id, state=SKIPPED, skip_reason=reason)
        return replace(message, state=SKIPPED, skip_reason=reason)

    def _set(self, message_id: int, **values: Any) -> None:
        self._session.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))
