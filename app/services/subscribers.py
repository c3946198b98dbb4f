"""Subscriber registry (role admin): who receives identity messages, in which format, and when.

Switching a subscriber to INS-ready is one transaction: the flag goes up (every later row is
written in the INS-ready format) and a replay job is created that re-sends, as A31 updates, the
current state of every QUAL identity that subscriber holds (see ``app.services.replay``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import DEFAULT_EVENTS, UTF8, ReplayJobRow, SubscriberRow
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, NotFound

EVENTS = frozenset({"A28", "A31", "A40", "A47"})
CHARSETS = frozenset({"UNICODE UTF-8", "8859/1"})


@dataclass(frozen=True)
class SubscriberInput:
    """What an administrator declares for a downstream application."""

    name: str
    host: str
    port: int
    receiving_application: str
    receiving_facility: str
    tls: bool = False
    charset: str = UTF8
    events: str = DEFAULT_EVENTS
    enabled: bool = True


def _check(values: dict[str, Any]) -> dict[str, Any]:
    if "events" in values:
        events = [e.strip().upper() for e in str(values["events"]).split(",") if e.strip()]
        if not events or set(events) - EVENTS:
            raise Conflict("subscriber-events", field="events", allowed=", ".join(sorted(EVENTS)))
        values["events"] = ",".join(events)
    if "charset" in values and values["charset"] not in CHARSETS:
        raise Conflict("subscriber-charset", field="charset", allowed=", ".join(sorted(CHARSETS)))
    return values


def _get(session: Any, subscriber_id: int, *, for_update: bool = False) -> SubscriberRow:
    stmt = select(SubscriberRow).where(SubscriberRow.id == subscriber_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(what="Subscriber", ident=subscriber_id)
    return row


def create_subscriber(ctx: ServiceContext, actor: Actor, data: SubscriberInput) -> SubscriberRow:
    """Register a subscriber (legacy format until switched to INS-ready)."""
    require_any(actor.roles, Role.ADMIN)
    values = _check({f.name: getattr(data, f.name) for f in fields(data)})
    with ctx.unit_of_work(actor) as uow:
        if uow.session.execute(select(SubscriberRow).where(SubscriberRow.name == data.name)).first():
            raise Conflict("subscriber-exists", field="name", name=data.name)
        now = ctx.now()
        row = SubscriberRow(**values, ins_ready=False, paused=False, created_at=now, updated_at=now)
        uow.session.add(row)
        uow.session.flush()
        uow.audit("subscriber.created", None, None, {"subscriber_id": row.id, "name": row.name}, full=True)
        uow.commit()
    return row


def list_subscribers(ctx: ServiceContext, actor: Actor) -> list[SubscriberRow]:
    """Every subscriber, by name."""
    require_any(actor.roles, Role.ADMIN)
    with Session(ctx.engine) as session:
        return list(session.execute(select(SubscriberRow).order_by(SubscriberRow.name)).scalars())


def get_subscriber(ctx: ServiceContext, actor: Actor, subscriber_id: int) -> SubscriberRow:
    """One subscriber."""
    require_any(actor.roles, Role.ADMIN)
    with Session(ctx.engine) as session:
        return _get(session, subscriber_id)


def update_subscriber(
    ctx: ServiceContext, actor: Actor, subscriber_id: int, changes: dict[str, Any]
) -> SubscriberRow:
    """Change connection data, events, charset or the enabled flag (INS-ready has its own switch)."""
    require_any(actor.roles, Role.ADMIN)
    allowed = {f.name for f in fields(SubscriberInput)}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"unknown subscriber fields: {sorted(unknown)}")
    values = _check(dict(changes))
    with ctx.unit_of_work(actor) as uow:
        row = _get(uow.session, subscriber_id, for_update=True)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = ctx.now()
        uow.session.add(row)
        uow.audit("subscriber.updated", None, None, {"subscriber_id": subscriber_id, **values}, full=True)
        uow.commit()
    return row


def set_paused(ctx: ServiceContext, actor: Actor, subscriber_id: int, paused: bool) -> SubscriberRow:
    """Pause (rows keep accumulating, nothing is sent) or resume deliveries."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.unit_of_work(actor) as uow:
        row = _get(uow.session, subscriber_id, for_update=True)
        row.paused, row.updated_at = paused, ctx.now()
        uow.session.add(row)
        uow.audit(
            "subscriber.paused" if paused else "subscriber.resumed",
            None,
            None,
            {"subscriber_id": subscriber_id},
            full=True,
        )
        uow.commit()
    return row


def switch_ins_ready(
    ctx: ServiceContext, actor: Actor, subscriber_id: int, *, rate_per_second: float = 2000.0
) -> ReplayJobRow:
    """Flag the subscriber INS-ready and start the replay of its QUAL identities (pam-fr.md)."""
    from app.services.replay import new_job

    require_any(actor.roles, Role.ADMIN)
    with ctx.unit_of_work(actor) as uow:
        row = _get(uow.session, subscriber_id, for_update=True)
        if row.ins_ready:
            raise Conflict("subscriber-already-ins-ready", field="ins_ready", name=row.name)
        row.ins_ready, row.updated_at = True, ctx.now()
        uow.session.add(row)
        job = new_job(uow.session, row, "qual", ctx.now(), rate_per_second)
        uow.audit(
            "subscriber.ins_ready",
            None,
            None,
            {"subscriber_id": subscriber_id, "replay_job": job.id},
            full=True,
        )
        uow.commit()
    return job
