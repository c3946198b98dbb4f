"""Downstream applications (subscribers) and the events each wants.

The events a subscriber wants are rows of ``subscriber_event`` (one per event, unique per
subscriber): the outbox fan-out joins on them (``app.db.outbox``), so "does this subscriber want
this event" has one answer, in SQL. Their ``position`` keeps the order the administrator gave.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from app.db.hl7_tables import UTF8, SubscriberEventRow, SubscriberRow

__all__ = ["UTF8", "Subscriber", "SubscriberRepository"]

SUBSCRIBER = SubscriberRow.__table__  # type: ignore[attr-defined]
SUBSCRIBER_EVENT = SubscriberEventRow.__table__  # type: ignore[attr-defined]
# What an administrator may set (the rest is kept by the repository: id, flags, timestamps).
SETTABLE = frozenset({"name", "host", "port", "tls", "receiving_application", "receiving_facility", "charset",
                      "events", "enabled", "paused", "ins_ready"})


@dataclass(frozen=True)
class Subscriber:
    """A downstream application fed over MLLP, with the events it wants, in the order given."""

    id: int
    name: str
    host: str
    port: int
    tls: bool
    receiving_application: str
    receiving_facility: str
    charset: str
    events: tuple[str, ...]
    ins_ready: bool
    enabled: bool
    paused: bool
    created_at: datetime
    updated_at: datetime

    @property
    def format(self) -> str:
        """The format of the rows written for it from now on (fixed per row at enqueue)."""
        return "ins_ready" if self.ins_ready else "legacy"


def _subscribers(rows: Iterable[Any]) -> list[Subscriber]:
    """Read models from subscriber rows outer-joined to their events (ordered by position)."""
    found: dict[int, tuple[Any, list[str]]] = {}
    for row in rows:
        _, events = found.setdefault(row.id, (row, []))
        if row.event is not None:
            events.append(row.event)
    return [
        Subscriber(
            row.id, row.name, row.host, row.port, row.tls, row.receiving_application,
            row.receiving_facility, row.charset, tuple(events), row.ins_ready, row.enabled, row.paused,
            row.created_at, row.updated_at,
        )
        for row, events in found.values()
    ]


class SubscriberRepository:
    """Downstream applications (subscribers) and the events each wants."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _select(
        self, condition: Any = None, *, order: Any = SUBSCRIBER.c.id, for_update: bool = False
    ) -> list[Subscriber]:
        stmt = select(SUBSCRIBER, SUBSCRIBER_EVENT.c.event).outerjoin(
            SUBSCRIBER_EVENT, SUBSCRIBER_EVENT.c.subscriber_id == SUBSCRIBER.c.id
        )
        if condition is not None:
            stmt = stmt.where(condition)
        if for_update:
            stmt = stmt.with_for_update(of=SUBSCRIBER)
        return _subscribers(self._session.execute(stmt.order_by(order, SUBSCRIBER_EVENT.c.position)))

    def get(self, subscriber_id: int, *, for_update: bool = False) -> Subscriber | None:
        """One subscriber (locked for the transaction with ``for_update``)."""
        found = self._select(SUBSCRIBER.c.id == subscriber_id, for_update=for_update)
        return found[0] if found else None

    def get_many(self, subscriber_ids: Iterable[int]) -> dict[int, Subscriber]:
        """Several subscribers by id (one query)."""
        return {s.id: s for s in self._select(SUBSCRIBER.c.id.in_(list(subscriber_ids)))}

    def list_all(self) -> list[Subscriber]:
        """Every subscriber, by name."""
        return self._select(order=SUBSCRIBER.c.name)

    def names(self) -> dict[int, str]:
        """Each subscriber's name by id."""
        return {r.id: r.name for r in self._session.execute(select(SUBSCRIBER.c.id, SUBSCRIBER.c.name))}

    def name_taken(self, name: str) -> bool:
        """Whether a subscriber already has this name."""
        found = self._session.execute(select(SUBSCRIBER.c.id).where(SUBSCRIBER.c.name == name)).first()
        return found is not None

    def add(self, values: Mapping[str, Any], now: datetime) -> Subscriber:
        """Register a subscriber (legacy format, not paused) with the events it wants."""
        columns = {k: v for k, v in _settable(values).items() if k != "events"}
        row = {"ins_ready": False, "paused": False, **columns, "created_at": now, "updated_at": now}
        result = self._session.execute(insert(SUBSCRIBER).values(row))
        return self._stored(int(result.inserted_primary_key[0]), values["events"])  # type: ignore[attr-defined]

    def update(self, subscriber_id: int, changes: Mapping[str, Any], now: datetime) -> Subscriber:
        """Change some of a subscriber's values (``events`` replaces the whole list); returns it as stored."""
        columns = {k: v for k, v in _settable(changes).items() if k != "events"}
        self._session.execute(
            update(SUBSCRIBER).where(SUBSCRIBER.c.id == subscriber_id).values(**columns, updated_at=now)
        )
        return self._stored(subscriber_id, changes.get("events"))

    def _stored(self, subscriber_id: int, events: Sequence[str] | None) -> Subscriber:
        """Write the subscriber's events (None: unchanged), then read the subscriber back."""
        if events is not None:
            self._session.execute(
                delete(SUBSCRIBER_EVENT).where(SUBSCRIBER_EVENT.c.subscriber_id == subscriber_id)
            )
            rows = [{"subscriber_id": subscriber_id, "event": e, "position": i} for i, e in enumerate(events)]
            if rows:
                self._session.execute(insert(SUBSCRIBER_EVENT), rows)
        subscriber = self.get(subscriber_id)
        assert subscriber is not None
        return subscriber


def _settable(values: Mapping[str, Any]) -> Mapping[str, Any]:
    unknown = set(values) - SETTABLE
    if unknown:
        raise ValueError(f"not subscriber values: {sorted(unknown)}")
    return values
