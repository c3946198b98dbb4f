"""Subscriber registry (role admin): who receives identity messages, in which format, and when.

Switching a subscriber to INS-ready is one transaction: the flag goes up (every later row is
written in the INS-ready format) and a replay job is created that re-sends, as A31 updates, the
current state of every QUAL identity that subscriber holds (see ``app.services.replay``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from app.db.replays import ReplayJob
from app.db.subscribers import UTF8, Subscriber
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import Conflict, NotFound

EVENTS = frozenset({"A28", "A31", "A40", "A47", "A24", "A37"})
DEFAULT_EVENTS = "A28,A31,A40,A47,A24,A37"
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
    events: str = DEFAULT_EVENTS  # comma-separated, as the API takes and shows it
    enabled: bool = True


def _check(values: dict[str, Any]) -> dict[str, Any]:
    """Validated values; ``events`` becomes the list of wanted events (each once, in the given order)."""
    if "events" in values:
        events = [e.strip().upper() for e in str(values["events"]).split(",") if e.strip()]
        if not events or set(events) - EVENTS:
            raise Conflict("subscriber-events", field="events", allowed=", ".join(sorted(EVENTS)))
        values["events"] = tuple(dict.fromkeys(events))
    if "charset" in values and values["charset"] not in CHARSETS:
        raise Conflict("subscriber-charset", field="charset", allowed=", ".join(sorted(CHARSETS)))
    return values


def _locked(uow: UnitOfWork, subscriber_id: int) -> Subscriber:
    """The subscriber, locked until the transaction ends; NotFound when there is none."""
    subscriber = uow.subscribers.get(subscriber_id, for_update=True)
    if subscriber is None:
        raise NotFound(what="Subscriber", ident=subscriber_id)
    return subscriber


def create_subscriber(ctx: ServiceContext, actor: Actor, data: SubscriberInput) -> Subscriber:
    """Register a subscriber (legacy format until switched to INS-ready)."""
    require_any(actor.roles, Role.ADMIN)
    values = _check({f.name: getattr(data, f.name) for f in fields(data)})
    with ctx.unit_of_work(actor) as uow:
        if uow.subscribers.name_taken(data.name):
            raise Conflict("subscriber-exists", field="name", name=data.name)
        subscriber = uow.subscribers.add(values, ctx.now())
        uow.audit("subscriber.created", None, None, {"subscriber_id": subscriber.id, "name": subscriber.name},
                  full=True)
        uow.commit()
    return subscriber


def list_subscribers(ctx: ServiceContext, actor: Actor) -> list[Subscriber]:
    """Every subscriber, by name."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.reading() as reader:
        return reader.subscribers.list_all()


def get_subscriber(ctx: ServiceContext, actor: Actor, subscriber_id: int) -> Subscriber:
    """One subscriber."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.reading() as reader:
        subscriber = reader.subscribers.get(subscriber_id)
    if subscriber is None:
        raise NotFound(what="Subscriber", ident=subscriber_id)
    return subscriber


def update_subscriber(
    ctx: ServiceContext, actor: Actor, subscriber_id: int, changes: dict[str, Any]
) -> Subscriber:
    """Change connection data, events, charset or the enabled flag (INS-ready has its own switch)."""
    require_any(actor.roles, Role.ADMIN)
    allowed = {f.name for f in fields(SubscriberInput)}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"unknown subscriber fields: {sorted(unknown)}")
    values = _check(dict(changes))
    with ctx.unit_of_work(actor) as uow:
        current = _locked(uow, subscriber_id)
        name = values.get("name")
        if name is not None and name != current.name and uow.subscribers.name_taken(name):
            raise Conflict("subscriber-exists", field="name", name=name)  # was a unique-index 500
        subscriber = uow.subscribers.update(subscriber_id, values, ctx.now())
        audited = {k: ",".join(v) if k == "events" else v for k, v in values.items()}
        uow.audit("subscriber.updated", None, None, {"subscriber_id": subscriber_id, **audited}, full=True)
        uow.commit()
    return subscriber


def set_paused(ctx: ServiceContext, actor: Actor, subscriber_id: int, paused: bool) -> Subscriber:
    """Pause (rows keep accumulating, nothing is sent) or resume deliveries."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.unit_of_work(actor) as uow:
        _locked(uow, subscriber_id)
        subscriber = uow.subscribers.update(subscriber_id, {"paused": paused}, ctx.now())
        uow.audit(
            "subscriber.paused" if paused else "subscriber.resumed",
            None,
            None,
            {"subscriber_id": subscriber_id},
            full=True,
        )
        uow.commit()
    return subscriber


def switch_ins_ready(
    ctx: ServiceContext, actor: Actor, subscriber_id: int, *, rate_per_second: float = 2000.0
) -> ReplayJob:
    """Flag the subscriber INS-ready and start the replay of its QUAL identities (pam-fr.md)."""
    require_any(actor.roles, Role.ADMIN)
    with ctx.unit_of_work(actor) as uow:
        subscriber = _locked(uow, subscriber_id)
        if subscriber.ins_ready:
            raise Conflict("subscriber-already-ins-ready", field="ins_ready", name=subscriber.name)
        uow.subscribers.update(subscriber_id, {"ins_ready": True}, ctx.now())
        job = uow.replays.create(subscriber_id, "qual", ctx.now(), rate_per_second)
        uow.audit(
            "subscriber.ins_ready",
            None,
            None,
            {"subscriber_id": subscriber_id, "replay_job": job.id},
            full=True,
        )
        uow.commit()
    return job
