"""Identity messages received from a GAM: applied through the identity use cases, then acknowledged.

One message = one transaction: the de-duplication row (sender + MSH-10, with the ACK text), the
identity change, its audit and outbox rows are committed together, and only then is the ACK sent.
A duplicate MSH-10 from the same sender gets the stored ACK again and changes nothing. A message
that breaks a rule is rolled back, stored in quarantine for an operator, and answered AE.

An INS received from a sender that is not a trusted referential is never taken as qualified: it
is stored as received (inactive, source ``HL7-RECEIVED``) for INSi verification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from app.db.hl7_tables import InboundMessageRow, QuarantineRow
from app.db.tables import IdentityRow
from app.domain.errors import DomainError
from app.domain.identity import Identity
from app.domain.ins import Ins, InsRecord
from app.domain.status import IdentityState
from app.domain.worklist import Hint, WorklistKind
from app.services import identities
from app.services.context import Actor, IdentityChange, ServiceContext, UnitOfWork
from app.services.errors import Conflict, NotFound
from app.services.worklists import open_item

INBOUND_MESSAGE = InboundMessageRow.__table__  # type: ignore[attr-defined]
RECEIVED_SOURCE = "HL7-RECEIVED"
MERGE, CHANGE_ID, CREATE = "A40", "A47", "A28"
OPTIONAL_TRAITS = ("birth_place_code", "used_name", "used_first_name")


@dataclass(frozen=True)
class ReceivedIdentity:
    """The identity carried by a message, in the services' own terms."""

    event: str
    ipp: str
    traits: identities.TraitsInput
    ins: tuple[tuple[str | None, str], ...] = ()  # (matricule or None for withdrawn, OID)
    status_code: str | None = None
    prior_ipp: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What to answer: the ACK text and its code; ``duplicate`` when it was sent before."""

    ack: str
    ack_code: str
    identity_id: int | None = None
    duplicate: bool = False


AckFactory = Callable[[str, DomainError | None], str]


def sender_actor(sender: str) -> Actor:
    """The sending application acts with the integration role."""
    return Actor(f"hl7:{sender}", frozenset({"integration"}), kind="application")


def stored_ack(ctx: ServiceContext, sender: str, control_id: str) -> Receipt | None:
    """The ACK already sent for this sender's MSH-10, if any."""
    with Session(ctx.engine) as session:
        row = session.execute(
            select(InboundMessageRow).where(
                InboundMessageRow.sender == sender, InboundMessageRow.control_id == control_id
            )
        ).scalar_one_or_none()
    return Receipt(row.ack, row.ack_code, row.identity_id, True) if row else None


def receive(
    ctx: ServiceContext,
    sender: str,
    control_id: str,
    raw: bytes,
    received: ReceivedIdentity | None,
    error: DomainError | None,
    make_ack: AckFactory,
    *,
    trusted: bool = False,
) -> Receipt:
    """Apply a parsed message (or quarantine an unreadable one) and return the ACK to send.

    A duplicate MSH-10 is detected by the unique (sender, control id) row written with the change:
    the duplicate's transaction fails on it, is rolled back, and the stored ACK is returned.
    """
    if error is None and received is not None:
        try:
            return _apply(ctx, sender, control_id, received, make_ack, trusted)
        except IntegrityError:
            previous = stored_ack(ctx, sender, control_id)
            if previous is not None:  # sent before (or the same message arrived twice at once)
                return previous
            error = Conflict("hl7-conflict", field="PID-3")
        except DomainError as exc:
            previous = stored_ack(ctx, sender, control_id)
            if previous is not None:  # a duplicate of a message whose ACK was already sent
                return previous
            error = exc
    else:
        previous = stored_ack(ctx, sender, control_id)
        if previous is not None:
            return previous
    assert error is not None
    return _quarantine(ctx, sender, control_id, received.event if received else "", raw, error, make_ack)


@dataclass(frozen=True)
class Incoming:
    """One received message, as ``receive`` takes it."""

    sender: str
    control_id: str
    raw: bytes
    received: ReceivedIdentity | None
    error: DomainError | None
    make_ack: AckFactory
    trusted: bool = False


def receive_many(ctx: ServiceContext, messages: Sequence[Incoming]) -> list[Receipt]:
    """Apply messages that arrived together (from different connections) in one transaction.

    Group commit: one BEGIN/COMMIT and one multi-row insert per table for the whole group
    instead of one per message, which is most of the cost of a small change. Each message keeps
    its own sender as actor (audit, outbox). If any message of the group is refused or is a
    duplicate, or the transaction fails, nothing of the group is kept and every message is
    applied again alone, exactly as ``receive`` does: the answers are those of one-by-one
    processing, only sooner.
    """
    if len(messages) < 2 or any(m.error is not None or m.received is None for m in messages):
        return [_receive_one(ctx, m) for m in messages]
    try:
        return _apply_group(ctx, messages)
    except (DomainError, IntegrityError, OperationalError):
        return [_receive_one(ctx, m) for m in messages]


def _receive_one(ctx: ServiceContext, m: Incoming) -> Receipt:
    return receive(ctx, m.sender, m.control_id, m.raw, m.received, m.error, m.make_ack, trusted=m.trusted)


def _apply_group(ctx: ServiceContext, messages: Sequence[Incoming]) -> list[Receipt]:
    receipts, rows = [], []
    with ctx.unit_of_work(sender_actor(messages[0].sender)) as uow:
        received = [m.received for m in messages if m.received is not None]
        if len(received) > 1 and all(r.event not in (MERGE, CHANGE_ID) for r in received):
            uow.identities.lock_by_ipps([r.ipp for r in received])  # one statement for the group
        for m in messages:
            assert m.received is not None
            uow.actor = sender_actor(m.sender)
            identity = apply_in(uow, m.received, f"HL7 {m.received.event} {m.control_id}", m.trusted)
            ack = m.make_ack("AA", None)
            rows.append(_inbound_row(ctx, m.sender, m.control_id, m.received.event, ack, identity.id))
            receipts.append(Receipt(ack, "AA", identity.id))
        uow.insert_at_commit(INBOUND_MESSAGE, rows)
        uow.commit()
    return receipts


def _inbound_row(
    ctx: ServiceContext, sender: str, control_id: str, event: str, ack: str, identity_id: int
) -> dict[str, object]:
    """The de-duplication row of an applied message (sender + MSH-10, with the ACK sent)."""
    return {
        "sender": sender,
        "control_id": control_id,
        "event": event,
        "received_at": ctx.now(),
        "ack_code": "AA",
        "ack": ack,
        "identity_id": identity_id,
    }


def _apply(
    ctx: ServiceContext,
    sender: str,
    control_id: str,
    received: ReceivedIdentity,
    make_ack: AckFactory,
    trusted: bool,
) -> Receipt:
    """One message alone: a group of one."""
    return _apply_group(ctx, [Incoming(sender, control_id, b"", received, None, make_ack, trusted)])[0]


def _quarantine(
    ctx: ServiceContext,
    sender: str,
    control_id: str,
    event: str,
    raw: bytes,
    error: DomainError,
    make_ack: AckFactory,
) -> Receipt:
    ack = make_ack("AE", error)
    with Session(ctx.engine) as session:
        item = QuarantineRow(
            sender=sender,
            control_id=control_id,
            received_at=ctx.now(),
            raw=raw,
            error_code=error.code,
            error_field=error.field,
            error_text=error.message("en"),
        )
        session.add(item)
        session.flush()
        if control_id:
            session.add(
                InboundMessageRow(
                    sender=sender,
                    control_id=control_id,
                    event=event,
                    received_at=ctx.now(),
                    ack_code="AE",
                    ack=ack,
                    quarantine_id=item.id,
                )
            )
        try:
            session.commit()
        except IntegrityError:  # a concurrent duplicate was stored first: answer what it got
            session.rollback()
            return stored_ack(ctx, sender, control_id) or Receipt(ack, "AE")
    return Receipt(ack, "AE")


def apply_in(uow: UnitOfWork, received: ReceivedIdentity, reason: str, trusted: bool) -> Identity:
    """Apply one received identity inside an open unit of work."""
    if received.event == CHANGE_ID:
        identity = _change_ipp(uow, received)
    else:
        found = uow.identities.get_by_ipp(received.ipp, for_update=True)
        if found is None:
            traits = identities._build(uow.ctx, received.traits)  # noqa: SLF001 - same validation as REST
            identity = identities.create_in(uow, traits, ipp=received.ipp, source="SM")
        else:
            identity = found
    identity = _update_traits(uow, identity, received, reason)
    identity = _apply_ins(uow, identity, received, trusted)
    if received.event == MERGE:
        _merge(uow, identity, received)
    return identity


def _update_traits(uow: UnitOfWork, identity: Identity, received: ReceivedIdentity, reason: str) -> Identity:
    changes = {k: v for k, v in vars(received.traits).items() if not (k in OPTIONAL_TRAITS and not v)}
    changes["first_name"] = changes.get("first_name") or None
    return identities.edit_traits(uow, identity, changes, reason)


def _change_ipp(uow: UnitOfWork, received: ReceivedIdentity) -> Identity:
    """A47: MRG-1 names the old identifier, PID-3 the new one."""
    old = uow.identities.id_by_ipp(received.prior_ipp or "")
    if old is None:
        raise NotFound(what="IPP", ident=received.prior_ipp)
    if uow.identities.id_by_ipp(received.ipp) not in (None, old):
        raise Conflict("ipp-exists", field="PID-3", ipp=received.ipp)
    before = identities.load(uow, old)
    uow.identities.set_ipp(old, received.ipp)
    after = identities.load(uow, old)
    uow.audit("identity.ipp_changed", old, {"ipp": before.ipp}, {"ipp": after.ipp})
    uow.changed(IdentityChange(after, before, "ipp_changed", uow.actor, {"prior_ipp": before.ipp}))
    return after


def _merge(uow: UnitOfWork, survivor: Identity, received: ReceivedIdentity) -> None:
    """A40: the identity of MRG-1 is deactivated and points at the survivor (ins-rniv §6)."""
    absorbed_id = uow.identities.id_by_ipp(received.prior_ipp or "")
    if absorbed_id is None or absorbed_id == survivor.id:
        raise NotFound(what="IPP", ident=received.prior_ipp)
    absorbed = identities.load(uow, absorbed_id)
    uow.identities.deactivate_ins(absorbed_id, uow.ctx.now())
    uow.identities.save(replace(absorbed, active=False), expected_version=absorbed.version, now=uow.ctx.now())
    uow.session.execute(
        update(IdentityRow).where(IdentityRow.id == absorbed_id).values(merged_into_id=survivor.id)
    )
    uow.audit("identity.merged", absorbed_id, {"active": True}, {"active": False, "merged_into": survivor.id})
    uow.changed(IdentityChange(survivor, survivor, "merged", uow.actor, {"prior_ipp": absorbed.ipp}))


def _apply_ins(uow: UnitOfWork, identity: Identity, received: ReceivedIdentity, trusted: bool) -> Identity:
    for matricule, oid in received.ins:
        if matricule is None:
            if trusted and identity.active_ins is not None and identity.active_ins.oid == oid:
                identity = _withdraw(uow, identity)
            continue
        ins = Ins.of(matricule, oid)
        holder = uow.identities.id_by_active_ins(ins.matricule)
        if holder not in (None, identity.id):
            raise Conflict("ins-held-elsewhere", field="PID-3", other=holder)
        if trusted and received.status_code == "VALI":
            identity = _qualify(uow, identity, ins)
        elif all(r.ins.matricule != ins.matricule for r in identity.ins_records):
            uow.identities.add_ins(identity.id, InsRecord(ins, False, RECEIVED_SOURCE), uow.ctx.now())
            uow.audit(
                "ins.received", identity.id, None, {"oid": ins.oid, "verification": "pending"}, full=True
            )
            open_item(uow, WorklistKind.INS_RECEIVED, identity.id, "received", hint=Hint.VERIFY_RECEIVED_INS,
                      details={"oid": ins.oid, "sender": uow.actor.subject}, source="hl7")
    return identity


def _qualify(uow: UnitOfWork, identity: Identity, ins: Ins) -> Identity:
    """A trusted referential sent VALI + INS: the identity is qualified as it holds it."""
    if identity.active_ins == ins and identity.state.ins_transmissible:
        return identity
    if identity.active_ins is not None:
        uow.identities.deactivate_ins(identity.id, uow.ctx.now())
    uow.identities.add_ins(identity.id, InsRecord(ins, True, "HL7-TRUSTED"), uow.ctx.now())
    state = IdentityState(insi=True, document=True, attributes=identity.state.attributes)
    after = identities.store(
        uow, identity, replace(identity, state=state, insi_at=uow.ctx.now()), "hl7_qualified"
    )
    uow.audit(
        "identity.qualified_by_referential",
        identity.id,
        {"status": identity.status.value},
        {"status": after.status.value},
    )
    return after


def _withdraw(uow: UnitOfWork, identity: Identity) -> Identity:
    state, _ = identity.state.insi_lost()
    uow.identities.deactivate_ins(identity.id, uow.ctx.now())
    after = identities.store(uow, identity, replace(identity, state=state), "hl7_ins_withdrawn")
    uow.audit(
        "ins.withdrawn_by_referential",
        identity.id,
        {"status": identity.status.value},
        {"status": after.status.value},
    )
    return after
