"""API schemas of the HL7 integration: subscribers, replays, queue operations, quarantine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SubscriberCreate(BaseModel):
    """A downstream application fed over MLLP."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "DPI",
                    "host": "dpi.chu-x.local",
                    "port": 2575,
                    "receiving_application": "DPI",
                    "receiving_facility": "CHU-X",
                    "events": "A28,A31,A40,A47,A24,A37",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    receiving_application: str = Field(min_length=1, max_length=100)
    receiving_facility: str = Field(min_length=1, max_length=100)
    tls: bool = False
    charset: str = Field(default="UNICODE UTF-8", description="UNICODE UTF-8 or 8859/1")
    events: str = Field(default="A28,A31,A40,A47,A24,A37", description="Comma-separated events it wants")
    enabled: bool = True


class SubscriberUpdate(BaseModel):
    """Fields to change (the INS-ready switch has its own endpoint)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    receiving_application: str | None = Field(default=None, max_length=100)
    receiving_facility: str | None = Field(default=None, max_length=100)
    tls: bool | None = None
    charset: str | None = None
    events: str | None = None
    enabled: bool | None = None


class SubscriberRead(BaseModel):
    """A subscriber as stored (its events as the comma-separated list it was given)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    host: str
    port: int
    tls: bool
    receiving_application: str
    receiving_facility: str
    charset: str
    events: str
    ins_ready: bool
    enabled: bool
    paused: bool

    @field_validator("events", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """The read model's list of events, shown as the API takes it."""
        return value if isinstance(value, str) or not isinstance(value, Sequence) else ",".join(value)


class ReplayRequest(BaseModel):
    """Replay one identity, or the identities changed in a time range."""

    model_config = ConfigDict(extra="forbid")

    identity_id: int | None = None
    from_at: datetime | None = None
    to_at: datetime | None = None


class ReplayRead(BaseModel):
    """A replay job and its progress."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subscriber_id: int
    scope: str
    state: str
    total: int
    enqueued: int
    rate_per_second: float
    created_at: datetime
    finished_at: datetime | None


class QueueRead(BaseModel):
    """Queue depth and age for one subscriber."""

    subscriber_id: int
    pending: int
    oldest_pending_age_seconds: float
    dead: int


class OutboxMessageRead(BaseModel):
    """An outbox message (a dead letter, typically): ids and delivery data, no patient traits."""

    model_config = ConfigDict(from_attributes=True)

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


class QuarantineRead(BaseModel):
    """A quarantined inbound message."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sender: str
    control_id: str
    received_at: datetime
    error_code: str
    error_field: str | None
    error_text: str
    state: str
    note: str | None


class QuarantineDetail(QuarantineRead):
    """With the message text (segments separated by newlines for reading)."""

    message: str


class Rerun(BaseModel):
    """Optionally, the fixed message text (segments separated by CR or newlines)."""

    model_config = ConfigDict(extra="forbid")

    message: str | None = Field(default=None, max_length=1_000_000)


class RerunResult(BaseModel):
    """The ACK the re-run produced."""

    ack_code: str
    ack: str


class ReasonBody(BaseModel):
    """A mandatory reason."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
