"""Identity messages received from a GAM: applied through the identity use cases, then acknowledged.

One message = one transaction: the de-duplication row (sender + MSH-10, with the ACK text), the
identity change, its audit and outbox rows are committed together, and only then is the ACK sent.
A duplicate MSH-10 from the same sender gets the stored ACK again and changes nothing. A message
that breaks a rule is rolled back, stored in quarantine for an operator, and answered AE.

An INS received from a sender that is not a trusted referential is never taken as qualified: it
is stored as received (inactive, source ``HL7-RECEIVED``) for INSi verification.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from app.db.hl7_tables import InboundMessageRow, QuarantineRow
from app.domain.errors import DomainError
from app.domain.identifiers import OWN, Authority, IdentifierOtherPerson, check_same_person
from app.domain.identity import COLLECTION_METHODS, Identity
from app.domain.ins import Ins, InsRecord
from app.domain.status import IdentityState
from app.domain.worklist import Hint, WorklistKind
from app.services import identities
from app.services.context import Actor, IdentityChange, ServiceContext, UnitOfWork
from app.services.errors import Conflict, NotFound
from app.services.worklists import open_item

INBOUND_MESSAGE = InboundMessageRow.__table__  # type: ignore[attr-defined]
RECEIVED_SOURCE = "HL7-RECEIVED"
# Where an error about a trait or identifier points in a PAM FR message (ERR-2, quarantine).
HL7_LOCATION = {
    "birth_name": "PID-5",
    "first_names": "PID-5",
    "first_name": "PID-5",
    "used_name": "PID-5",
    "used_first_name": "PID-5",
    "birth_date": "PID-7",
    "sex": "PID-8",
    "birth_place_code": "PID-11",
    "matricule": "PID-3",
    "oid": "PID-3",
    "ipp": "PID-3",
    "collection_method": "ZFD-5",
    "type": "ZFD-7",
    "expires_on": "ZFD-8",
}
_HL7_FIELD = re.compile(r"[A-Z][A-Z0-9]{2}(-[0-9]+)?")


def hl7_location(error: DomainError) -> str:
    """The HL7 location (``PID-7``, ``MRG-1``) an error points at; ``PID`` when it names none."""
    field = error.field or ""
    return field if _HL7_FIELD.fullmatch(field) else HL7_LOCATION.get(field, "PID")
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
    authority: Authority = OWN  # of ``ipp``: Identito's own or the sender's
    prior_authority: Authority = OWN  # of ``prior_ipp``
    method: str | None = None  # ZFD-5: how the sender collected the traits
    document: identities.DocumentInput | None = None  # ZFD-7/8: the document the sender checked


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


def stored_ack(ctx: ServiceContext, sender: str, control_id: str) -> tuple[Receipt, str | None] | None:
    """The ACK already sent for this sender's MSH-10, if any, with the digest of what it answered."""
    with Session(ctx.engine) as session:
        row = session.execute(
            select(InboundMessageRow).where(
                InboundMessageRow.sender == sender, InboundMessageRow.control_id == control_id
            )
        ).scalar_one_or_none()
    return (Receipt(row.ack, row.ack_code, row.identity_id, True), row.content_digest) if row else None


@dataclass(frozen=True)
class Incoming:
    """One received message: its sender, MSH-10, bytes and their digest, what it carries (or why
    it cannot be read), how to acknowledge it, and whether its sender is a trusted referential."""

    sender: str
    control_id: str
    raw: bytes
    received: ReceivedIdentity | None
    error: DomainError | None
    make_ack: AckFactory
    trusted: bool = False
    digest: str | None = None  # of the content (see app.integrations.hl7.parse.content_digest)


def receive(ctx: ServiceContext, m: Incoming) -> Receipt:
    """Apply a parsed message (or quarantine an unreadable one) and return the ACK to send.

    A duplicate MSH-10 is detected by the unique (sender, control id) row written with the change:
    the duplicate's transaction fails on it, is rolled back, and the stored ACK is returned, when
    the content is the same. A control id sent again with other content is not a resend: it is
    refused (AE) and quarantined, so that a sender that reset its counter loses nothing.
    """
    error = m.error
    if error is None and m.received is not None:
        try:
            return _apply_group(ctx, [m])[0]
        except IntegrityError:
            error = Conflict("hl7-conflict", field="PID-3")
        except DomainError as exc:
            error = exc
    previous = stored_ack(ctx, m.sender, m.control_id)
    if previous is not None:
        receipt, digest = previous
        if digest is None or m.digest is None or digest == m.digest:  # sent before: the same answer
            return receipt
        error = Conflict("hl7-control-id-reused", field="MSH-10", control_id=m.control_id)
    return _quarantine(ctx, m, error, keep_ack=error.code != "hl7-control-id-reused")


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
        return [receive(ctx, m) for m in messages]
    try:
        return _apply_group(ctx, messages)
    except (DomainError, IntegrityError, OperationalError):
        return [receive(ctx, m) for m in messages]


def _apply_group(ctx: ServiceContext, messages: Sequence[Incoming]) -> list[Receipt]:
    receipts, rows = [], []
    with ctx.unit_of_work(sender_actor(messages[0].sender)) as uow:
        received = [m.received for m in messages if m.received is not None]
        if len(received) > 1 and all(r.event not in (MERGE, CHANGE_ID) for r in received):
            uow.identities.lock_by_ipps([(r.ipp, r.authority) for r in received])  # one statement
        for m in messages:
            assert m.received is not None
            uow.actor = sender_actor(m.sender)
            identity = apply_in(uow, m.received, f"HL7 {m.received.event} {m.control_id}", m.trusted)
            ack = m.make_ack("AA", None)
            rows.append(_inbound_row(ctx, m, ack, identity.id))
            receipts.append(Receipt(ack, "AA", identity.id))
        uow.insert_at_commit(INBOUND_MESSAGE, rows)
        uow.commit()
    return receipts


def _inbound_row(ctx: ServiceContext, m: Incoming, ack: str, identity_id: int) -> dict[str, object]:
    """The de-duplication row of an applied message (sender + MSH-10, with the ACK sent)."""
    assert m.received is not None
    return {
        "sender": m.sender,
        "control_id": m.control_id,
        "event": m.received.event,
        "received_at": ctx.now(),
        "ack_code": "AA",
        "ack": ack,
        "identity_id": identity_id,
        "content_digest": m.digest,
    }


def _quarantine(ctx: ServiceContext, m: Incoming, error: DomainError, *, keep_ack: bool = True) -> Receipt:
    """Keep a refused message for an operator, with its AE (and the worklist item it calls for).

    ``keep_ack``: the AE is stored as the answer to this MSH-10 (a resend gets it again); not for
    a control id already answered for other content, whose first answer stays.
    """
    ack = m.make_ack("AE", error)
    try:
        with ctx.unit_of_work(sender_actor(m.sender)) as uow:
            if not keep_ack and _already_quarantined(uow, m):
                return Receipt(ack, "AE")
            item = QuarantineRow(
                sender=m.sender,
                control_id=m.control_id,
                received_at=ctx.now(),
                raw=m.raw,
                error_code=error.code,
                error_field=hl7_location(error),
                error_text=error.message("en"),
            )
            uow.session.add(item)
            uow.session.flush()
            if m.control_id and keep_ack:
                uow.session.add(
                    InboundMessageRow(
                        sender=m.sender,
                        control_id=m.control_id,
                        event=m.received.event if m.received else "",
                        received_at=ctx.now(),
                        ack_code="AE",
                        ack=ack,
                        quarantine_id=item.id,
                        content_digest=m.digest,
                    )
                )
            if isinstance(error, IdentifierOtherPerson):  # two persons, one identifier: the cell decides
                open_item(uow, WorklistKind.IDENTIFIER_CONFLICT, error.other_identity_id, "received",
                          hint=Hint.IDENTIFIER_CONFLICT, source="hl7",
                          details={"quarantine_id": item.id, "sender": m.sender, "control_id": m.control_id,
                                   "differs": error.differs})
            uow.commit()
    except IntegrityError:  # a concurrent duplicate was stored first: answer what it got
        previous = stored_ack(ctx, m.sender, m.control_id)
        return previous[0] if previous else Receipt(ack, "AE")
    return Receipt(ack, "AE")


def _already_quarantined(uow: UnitOfWork, m: Incoming) -> bool:
    """Whether these very bytes are already in quarantine, still open (a resend of a refused reuse)."""
    found = uow.session.execute(
        select(QuarantineRow.id).where(
            QuarantineRow.sender == m.sender, QuarantineRow.control_id == m.control_id,
            QuarantineRow.state == "open", QuarantineRow.raw == m.raw,
        ).limit(1)
    ).first()
    return found is not None


def apply_in(uow: UnitOfWork, received: ReceivedIdentity, reason: str, trusted: bool) -> Identity:
    """Apply one received identity inside an open unit of work."""
    if received.event == CHANGE_ID:
        identity = _change_ipp(uow, received)
    else:
        found = uow.identities.get_by_ipp(received.ipp, received.authority, for_update=True)
        if found is None:
            traits = identities._build(uow.ctx, received.traits)  # noqa: SLF001 - same validation as REST
            identity = identities.create_in(uow, traits, ipp=received.ipp, source=_method(received),
                                            authority=received.authority)
        else:
            found.check_open(field="PID-3")
            if received.event == CREATE:
                _check_same_person(uow, found, received)
            identity = found
    identity = _update_traits(uow, identity, received, reason, trusted)
    identity = _apply_ins(uow, identity, received, trusted)
    if received.event == MERGE:
        _merge(uow, identity, received)
    return identity


def _method(received: ReceivedIdentity) -> str:
    """ZFD-5 as sent when it is a known method, else typed (SM)."""
    return received.method if received.method in COLLECTION_METHODS else "SM"


def _check_same_person(uow: UnitOfWork, held: Identity, received: ReceivedIdentity) -> None:
    """An A28 for an identifier already held updates it only if it describes the same person."""
    traits = identities._build(uow.ctx, received.traits)  # noqa: SLF001 - same validation as REST
    differs = check_same_person(held.traits, traits)
    if differs:
        raise IdentifierOtherPerson(ipp=received.ipp, authority=received.authority.text(), other=held.id,
                                    differs=differs, location="PID-3")


def _update_traits(
    uow: UnitOfWork, identity: Identity, received: ReceivedIdentity, reason: str, trusted: bool
) -> Identity:
    changes = {k: v for k, v in vars(received.traits).items() if not (k in OPTIONAL_TRAITS and not v)}
    changes["first_name"] = changes.get("first_name") or None
    method = received.method if received.method in COLLECTION_METHODS else None
    # A trusted referential's ZFD-7/ZFD-8 is the document checked with a strict change (ins-rniv §3).
    document = received.document if trusted else None
    return identities.edit_traits(uow, identity, changes, reason, document=document, method=method)


def _change_ipp(uow: UnitOfWork, received: ReceivedIdentity) -> Identity:
    """A47: MRG-1 names the old identifier, PID-3 the new one (both of the same authority)."""
    old = uow.identities.id_by_ipp(received.prior_ipp or "", received.prior_authority)
    if old is None:
        raise NotFound(what="IPP", ident=received.prior_ipp, field="MRG-1")
    if uow.identities.id_by_ipp(received.ipp, received.authority) not in (None, old):
        raise Conflict("ipp-exists", field="PID-3", ipp=received.ipp)
    before = _open_prior(uow, old)
    after = replace(before, ipp=received.ipp, ipp_authority=received.authority)
    uow.identities.set_ipp(old, received.ipp, received.authority)
    uow.audit("identity.ipp_changed", old, {"ipp": before.ipp}, {"ipp": after.ipp})
    uow.changed(IdentityChange(after, before, "ipp_changed", uow.actor, _prior(before)))
    return after


def _open_prior(uow: UnitOfWork, identity_id: int) -> Identity:
    """The identity MRG-1 names, locked; refused when it is itself merged already."""
    identity = uow.identities.get(identity_id, for_update=True)
    if identity is None:
        raise NotFound(what="Identity", ident=identity_id, field="MRG-1")
    identity.check_open(field="MRG-1")
    return identity


def _prior(identity: Identity) -> dict[str, str]:
    """The identifier an A40/A47 names in MRG-1, with its authority when it is not Identito's."""
    details = {"prior_ipp": identity.ipp}
    if not identity.ipp_authority.own:
        details["prior_ipp_authority"] = identity.ipp_authority.text()
    return details


def _merge(uow: UnitOfWork, survivor: Identity, received: ReceivedIdentity) -> None:
    """A40: the identity of MRG-1 is closed and points at the survivor (ins-rniv §6)."""
    absorbed_id = uow.identities.id_by_ipp(received.prior_ipp or "", received.prior_authority)
    if absorbed_id is None or absorbed_id == survivor.id:
        raise NotFound(what="IPP", ident=received.prior_ipp, field="MRG-1")
    absorbed = _open_prior(uow, absorbed_id)
    uow.identities.deactivate_ins(absorbed_id, uow.ctx.now())
    closed = replace(absorbed, active=False, merged_into=survivor.id)
    uow.identities.save(closed, expected_version=absorbed.version, now=uow.ctx.now())
    uow.audit("identity.merged", absorbed_id, {"active": True}, {"active": False, "merged_into": survivor.id})
    uow.changed(IdentityChange(survivor, survivor, "merged", uow.actor, _prior(absorbed)))


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
