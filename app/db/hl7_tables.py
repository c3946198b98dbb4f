"""Tables of the HL7 integration: subscribers and their events, the outbox, inbound de-duplication,
quarantine, replays.

Kept apart from ``tables.py`` so the identity core and the integration evolve in separate files;
both are storage only (repositories and ``app.db.outbox`` do the mapping).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, SmallInteger, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

UTF8 = "UNICODE UTF-8"
OPEN_CONDITION = "state IN ('pending', 'sending', 'dead')"
# Rows a relay may claim; a separate predicate so the planner never scans it to find stream heads.
READY_CONDITION = "state IN ('pending', 'sending')"


class SubscriberRow(SQLModel, table=True):
    """A downstream application that receives identity messages over MLLP."""

    __tablename__ = "subscriber"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    host: str = Field(max_length=255)
    port: int
    tls: bool = False
    receiving_application: str = Field(max_length=100)
    receiving_facility: str = Field(max_length=100)
    charset: str = Field(default=UTF8, max_length=20)
    ins_ready: bool = False
    enabled: bool = True
    paused: bool = False
    created_at: datetime
    updated_at: datetime


class SubscriberEventRow(SQLModel, table=True):
    """An event a subscriber wants (the outbox fan-out joins on it); ``position`` keeps the order
    the administrator listed them in."""

    __tablename__ = "subscriber_event"

    subscriber_id: int = Field(foreign_key="subscriber.id", primary_key=True)
    event: str = Field(max_length=3, primary_key=True)
    position: int = Field(sa_column=Column(SmallInteger, nullable=False))


class OutboxMessageRow(SQLModel, table=True):
    """One message to deliver to one subscriber; its id is the MSH-10 of every delivery attempt."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_stream", "subscriber_id", "identity_id", "id"),
        # Rows still to deliver (or blocking their stream): what the relay's claim looks at.
        Index(
            "ix_outbox_open_stream",
            "subscriber_id",
            "identity_id",
            "id",
            postgresql_where=text(OPEN_CONDITION),
            sqlite_where=text(OPEN_CONDITION),
        ),
        Index(
            "ix_outbox_ready",
            "id",
            postgresql_where=text(READY_CONDITION),
            sqlite_where=text(READY_CONDITION),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id")
    identity_id: int
    event: str = Field(max_length=3)
    format: str = Field(max_length=10)  # ins_ready | legacy, fixed when the row is written
    kind: str = Field(default="live", max_length=8)  # live | replay
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=8)  # pending sending done dead skipped
    attempts: int = 0
    error_attempts: int = 0
    available_at: datetime
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    skip_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class InboundMessageRow(SQLModel, table=True):
    """A message received from a sender, with the ACK sent back (replayed on a duplicate MSH-10)."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("sender", "control_id", name="ux_inbound_sender_control_id"),)

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=200)
    control_id: str = Field(max_length=64)
    event: str = Field(default="", max_length=8)
    received_at: datetime
    ack_code: str = Field(max_length=2)
    ack: str = Field(sa_column=Column(Text, nullable=False))
    identity_id: int | None = None
    quarantine_id: int | None = None
    # SHA-256 of the message content: a resend (same digest) gets the stored ACK again, another
    # message with the same control id is refused. None for rows stored before the digest existed.
    content_digest: str | None = Field(default=None, max_length=64)


class QuarantineRow(SQLModel, table=True):
    """A received message that could not be applied: kept for an operator to fix and re-run."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_state", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=200)
    control_id: str = Field(default="", max_length=64)
    received_at: datetime
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    error_code: str = Field(max_length=64)
    error_field: str | None = Field(default=None, max_length=64)
    error_text: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="open", max_length=10)  # open | resolved | discarded
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ReplayJobRow(SQLModel, table=True):
    """A resumable re-send of current identity states to one subscriber (INS-ready switch...)."""

    __tablename__ = "replay_job"
    __table_args__ = (Index("ix_replay_job_state", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    scope: str = Field(max_length=10)  # qual | held | identity | range
    state: str = Field(default="running", max_length=10)  # running | done | cancelled
    identity_id: int | None = None
    from_at: datetime | None = None
    to_at: datetime | None = None
    cursor: int = 0  # last identity id enqueued
    total: int = 0
    enqueued: int = 0
    rate_per_second: float = 2000.0
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
