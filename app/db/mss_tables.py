"""MSSanté messages: ``mss_message`` (one mail, its durable sending queue state) and ``mss_recipient``.

The message row is its own queue item (docs/mssante.md "Why not the outbox"): written in the
transaction that accepts the request, claimed with a lease by the SMTP worker, retried with
backoff, dead after the limit. The whole mail (RFC 5322 bytes, Message-ID included) is stored at
acceptance, so every attempt sends the same bytes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, text
from sqlmodel import Field, SQLModel

READY_CONDITION = "state IN ('pending', 'sending')"


class MssMessageRow(SQLModel, table=True):
    """One MSSanté mail: what was sent, for which identity, and where its sending stands."""

    __tablename__ = "mss_message"
    __table_args__ = (
        Index(
            "ix_mss_message_ready",
            "available_at",
            postgresql_where=text(READY_CONDITION),
            sqlite_where=text(READY_CONDITION),
        ),
        Index("ix_mss_message_identity", "identity_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tracking_id: str = Field(max_length=36, unique=True)  # given to the caller; the DSN ENVID
    message_id: str = Field(max_length=255)  # the RFC 5322 Message-ID, the same for every attempt
    identity_id: int
    document_unique_id: str = Field(max_length=64)
    kind: str = Field(max_length=64)
    action: str = Field(max_length=8)
    ins_sent: bool  # X-MSS-INS: O
    cda: bool = False
    read_receipt: bool = False
    sender: str = Field(max_length=320)
    mail: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int
    state: str = Field(default="pending", max_length=8)  # pending sending sent failed dead
    attempts: int = 0
    available_at: datetime
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime
    created_by: str = Field(max_length=128)
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class MssRecipientRow(SQLModel, table=True):
    """One recipient of a message and its own status (sent, delivered, failed, read...)."""

    __tablename__ = "mss_recipient"
    __table_args__ = (Index("ix_mss_recipient_message", "message_id", "position", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="mss_message.id")
    position: int
    address: str = Field(max_length=320)
    status: str = Field(default="pending", max_length=20)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime
