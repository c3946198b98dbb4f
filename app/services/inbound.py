"""The identity feed from a GAM (PAM FR): apply received identities, keep refused messages.

The wiring parses each message into one ``InboundCommand`` (what it carries, already in the
domain's terms, or why it cannot be read) and calls ``apply_messages`` for the messages that wait
together: a lone message is a group of one. The answer is one ``InboundResult`` per message;
the caller builds the ACK of a refused one and keeps it with ``quarantine``.

One group = one transaction: the log rows (sender + MSH-10, with the AA that will be sent), the
identity changes, their audit and outbox rows are committed together, and only then are the ACKs
sent. If a message of the group is refused or is a resend, nothing of the group is kept and each
message is applied alone: the answers are those of one-by-one processing. A resend (same sender,
MSH-10 and content) gets the stored ACK again and changes nothing; the same MSH-10 with other
content is refused, never dropped.

An INS received from a sender that is not a trusted referential is never taken as qualified: it
is stored as received (inactive, source ``HL7-RECEIVED``) for INSi verification.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.db.errors import DatabaseUnavailable, DuplicateKey
from app.db.inbound_log import INBOUND_MESSAGE, answer_row
from app.domain.errors import DomainError
from app.domain.identifiers import OWN, Authority, IdentifierOtherPerson, check_same_person
from app.domain.identity import COLLECTION_METHODS, Identity, IdentityChange
from app.domain.ins import Ins, InsRecord, check_not_held_elsewhere
from app.domain.roles import Actor
from app.domain.traits import Traits
from app.domain.worklist import Hint, WorklistKind
from app.services import identities, links, merges
from app.services.context import ServiceContext, UnitOfWork
from app.services.errors import Conflict, NotFound
from app.services.worklists import open_item

RECEIVED_SOURCE = "HL7-RECEIVED"
MERGE, CHANGE_ID, CREATE = "A40", "A47", "A28"
LINK, UNLINK = "A24", "A37"
OPTIONAL_TRAITS = ("birth_place_code", "used_name", "used_first_name")
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
REUSED = "hl7-control-id-reused"


def hl7_location(error: DomainError) -> str:
    """The HL7 location (``PID-7``, ``MRG-1``) an error points at; ``PID`` when it names none."""
    field = error.field or ""
    return field if _HL7_FIELD.fullmatch(field) else HL7_LOCATION.get(field, "PID")


@dataclass(frozen=True)
class ReceivedIdentity:
    """The identity a message carries, in the domain's terms (its traits validated once)."""

    event: str
    ipp: str
    traits: Traits  # optional traits the message leaves empty are None: the stored value stays
    ins: tuple[tuple[str | None, str], ...] = ()  # (matricule or None for withdrawn, OID)
    status_code: str | None = None
    prior_ipp: str | None = None
    authority: Authority = OWN  # of ``ipp``: Identito's own or the sender's
    prior_authority: Authority = OWN  # of ``prior_ipp``
    method: str | None = None  # ZFD-5: how the sender collected the traits
    document: identities.DocumentInput | None = None  # ZFD-7/8: the document the sender checked
    linked_ipp: str | None = None  # A24/A37: the other identity (second PID's PID-3)
    linked_authority: Authority = OWN  # of ``linked_ipp``


@dataclass(frozen=True)
class InboundCommand:
    """One received message: sender, MSH-10, bytes and the digest of their content, what it
    carries (or why it cannot be read), whether the sender is a trusted referential, and the AA
    that answers it if it is applied (stored with the change, sent after the commit)."""

    sender: str
    control_id: str
    raw: bytes
    received: ReceivedIdentity | None
    error: DomainError | None
    accepted_ack: str
    trusted: bool = False
    digest: str | None = None


@dataclass(frozen=True)
class InboundResult:
    """What became of a message: ``ack`` to send (the stored one for a resend), or ``error``:
    refused, nothing applied; the caller answers AE and keeps the message with ``quarantine``."""

    ack: str | None = None
    ack_code: str = "AA"
    identity_id: int | None = None
    duplicate: bool = False
    error: DomainError | None = None


def sender_actor(sender: str) -> Actor:
    """The sending application acts with the integration role."""
    return Actor(f"hl7:{sender}", frozenset({"integration"}), kind="application")


def apply_messages(ctx: ServiceContext, commands: Sequence[InboundCommand]) -> list[InboundResult]:
    """Apply messages that arrived together (a lone message is a group of one), in one transaction
    when they all apply; otherwise each alone. Database outages propagate (nothing was kept)."""
    if len(commands) > 1 and all(c.received is not None for c in commands):
        try:
            return _apply_group(ctx, commands)
        except (DomainError, DuplicateKey, DatabaseUnavailable):  # one refusal, resend or deadlock
            pass
    return [_alone(ctx, c) for c in commands]


def _alone(ctx: ServiceContext, command: InboundCommand) -> InboundResult:
    """One message in its own transaction; a resend gets its stored answer."""
    error = command.error
    if error is None:
        try:
            return _apply_group(ctx, [command])[0]
        except DuplicateKey:
            error = Conflict("hl7-conflict", field="PID-3")
        except DomainError as exc:
            error = exc
    with ctx.reading() as reader:
        stored = reader.inbound.answer(command.sender, command.control_id)
    if stored is not None:
        if stored.digest is None or command.digest is None or stored.digest == command.digest:
            return InboundResult(stored.ack, stored.ack_code, stored.identity_id, duplicate=True)
        error = Conflict(REUSED, field="MSH-10", control_id=command.control_id)
    return InboundResult(ack_code="AE", error=error)


def _apply_group(ctx: ServiceContext, commands: Sequence[InboundCommand]) -> list[InboundResult]:
    received = [c.received for c in commands if c.received is not None]
    results, rows = [], []
    with ctx.unit_of_work(sender_actor(commands[0].sender)) as uow:
        if len(received) > 1 and all(r.event not in (MERGE, CHANGE_ID, LINK, UNLINK) for r in received):
            uow.identities.lock_by_ipps([(r.ipp, r.authority) for r in received])  # one statement
        for command, message in zip(commands, received, strict=True):
            on_behalf = uow.acting_as(sender_actor(command.sender))
            reason = f"HL7 {message.event} {command.control_id}"
            identity = apply_in(ctx, on_behalf, message, reason, command.trusted)
            rows.append(answer_row(command.sender, command.control_id, message.event, uow.now(),
                                   command.accepted_ack, identity.id, command.digest))
            results.append(InboundResult(command.accepted_ack, "AA", identity.id))
        uow.insert_at_commit(INBOUND_MESSAGE, rows)  # a resend's MSH-10 fails here: DuplicateKey
        uow.commit()
    return results


def quarantine(ctx: ServiceContext, command: InboundCommand, error: DomainError, ack: str) -> InboundResult:
    """Keep a refused message for an operator with its AE (and the worklist item it calls for).

    The AE becomes the answer to the message's MSH-10, except for a control id already answered
    for other content, whose first answer stays (its repeats are kept once).
    """
    keep_ack = error.code != REUSED
    with ctx.unit_of_work(sender_actor(command.sender)) as uow:
        if not keep_ack and uow.inbound.is_quarantined(command.sender, command.control_id, command.raw):
            return InboundResult(ack, "AE", error=error)
        try:
            item = uow.inbound.quarantine(
                sender=command.sender, control_id=command.control_id,
                event=command.received.event if command.received else "", at=uow.now(), raw=command.raw,
                error_code=error.code, error_field=hl7_location(error), error_text=error.message("en"),
                ack=ack if keep_ack else None, digest=command.digest,
            )
        except DuplicateKey:  # a concurrent resend was answered first: answer what it got
            return _alone(ctx, replace(command, error=error))
        if isinstance(error, IdentifierOtherPerson):  # two persons, one identifier: the cell decides
            open_item(uow, WorklistKind.IDENTIFIER_CONFLICT, error.other_identity_id, "received",
                      hint=Hint.IDENTIFIER_CONFLICT, source="hl7",
                      details={"quarantine_id": item, "sender": command.sender,
                               "control_id": command.control_id, "differs": error.differs})
        uow.commit()
    return InboundResult(ack, "AE", error=error)


def apply_in(
    ctx: ServiceContext, uow: UnitOfWork, received: ReceivedIdentity, reason: str, trusted: bool
) -> Identity:
    """Apply one received identity inside an open unit of work."""
    if received.event in (LINK, UNLINK):
        return _link(uow, received, reason)
    if received.event == CHANGE_ID:
        identity = _change_ipp(uow, received)
    else:
        found = uow.identities.get_by_ipp(received.ipp, received.authority, for_update=True)
        if found is None:
            identity = identities.create_in(ctx, uow, received.traits, ipp=received.ipp,
                                            source=_method(received), authority=received.authority)
        else:
            found.check_open(field="PID-3")
            if received.event == CREATE:
                _check_same_person(found, received)
            identity = found
    identity = _update_traits(ctx, uow, identity, received, reason, trusted)
    identity = _apply_ins(uow, identity, received, trusted)
    if received.event == MERGE:
        identity = _merge(uow, identity, received, reason)
    return identity


def _method(received: ReceivedIdentity) -> str:
    """ZFD-5 as sent when it is a known method, else typed (SM)."""
    return received.method if received.method in COLLECTION_METHODS else "SM"


def _check_same_person(held: Identity, received: ReceivedIdentity) -> None:
    """An A28 for an identifier already held updates it only if it describes the same person."""
    differs = check_same_person(held.traits, received.traits)
    if differs:
        raise IdentifierOtherPerson(ipp=received.ipp, authority=received.authority.text(), other=held.id,
                                    differs=differs, location="PID-3")


def _update_traits(
    ctx: ServiceContext, uow: UnitOfWork, identity: Identity, received: ReceivedIdentity, reason: str,
    trusted: bool,
) -> Identity:
    kept = {k: getattr(identity.traits, k) for k in OPTIONAL_TRAITS if getattr(received.traits, k) is None}
    traits = received.traits.with_changes(**kept) if kept else received.traits
    method = received.method if received.method in COLLECTION_METHODS else None
    # A trusted referential's ZFD-7/ZFD-8 is the document checked with a strict change (ins-rniv §3).
    document = received.document if trusted else None
    return identities.apply_traits(ctx, uow, identity, traits, reason, document=document, method=method)


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
    uow.changed(IdentityChange(after, before, "ipp_changed", uow.actor, merges.prior_identifier(before)))
    return after


def _open_prior(uow: UnitOfWork, identity_id: int) -> Identity:
    """The identity MRG-1 names, locked; refused when it is itself merged already."""
    identity = uow.identities.get(identity_id, for_update=True)
    if identity is None:
        raise NotFound(what="Identity", ident=identity_id, field="MRG-1")
    identity.check_open(field="MRG-1")
    return identity


def _merge(uow: UnitOfWork, survivor: Identity, received: ReceivedIdentity, reason: str) -> Identity:
    """A40: the identity of MRG-1 is merged into the survivor, by the same use case as the cell's
    (ins-rniv §6: its rules apply, a refusal is an AE and a quarantined message)."""
    absorbed_id = uow.identities.id_by_ipp(received.prior_ipp or "", received.prior_authority)
    if absorbed_id is None or absorbed_id == survivor.id:
        raise NotFound(what="IPP", ident=received.prior_ipp, field="MRG-1")
    absorbed = _open_prior(uow, absorbed_id)
    return merges.merge_in(uow, survivor, absorbed, reason, source="hl7")


def _link(uow: UnitOfWork, received: ReceivedIdentity, reason: str) -> Identity:
    """A24 / A37: both identities named by their IPP (first and second PID), linked or unlinked by
    the cell's use case (its rules apply; a refusal is an AE). The PIDs' traits are not applied:
    the GAM sends them as it holds them, its A31 updates them."""
    ids = [uow.identities.id_by_ipp(ipp or "", authority)
           for ipp, authority in ((received.ipp, received.authority),
                                  (received.linked_ipp, received.linked_authority))]
    for found, ipp in zip(ids, (received.ipp, received.linked_ipp), strict=True):
        if found is None:
            raise NotFound(what="IPP", ident=ipp, field="PID-3")
    assert ids[0] is not None and ids[1] is not None
    identity, other = links.lock_pair(uow, ids[0], ids[1], field="PID-3")
    if received.event == LINK:
        links.link_in(uow, identity, other, reason, source="hl7")
    else:
        links.unlink_in(uow, identity, other, reason)
    return identity


def _apply_ins(uow: UnitOfWork, identity: Identity, received: ReceivedIdentity, trusted: bool) -> Identity:
    for matricule, oid in received.ins:
        if matricule is None:
            if trusted and identity.active_ins is not None and identity.active_ins.oid == oid:
                identity = _withdraw(uow, identity)
            continue
        ins = Ins.of(matricule, oid)
        check_not_held_elsewhere(uow.identities.id_by_active_ins(ins.matricule), identity.id, field="PID-3")
        if trusted and received.status_code == "VALI":
            identity = _qualify(uow, identity, ins)
        elif all(r.ins.matricule != ins.matricule for r in identity.ins_records):
            uow.identities.add_ins(identity.id, InsRecord(ins, False, RECEIVED_SOURCE), uow.now())
            uow.duplicates.queue([identity.id], uow.now())  # an INS is evidence for duplicate detection
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
    state, _ = identity.state.qualified_by_referential()
    if identity.active_ins is not None:
        uow.identities.deactivate_ins(identity.id, uow.now())
    uow.identities.add_ins(identity.id, InsRecord(ins, True, "HL7-TRUSTED"), uow.now())
    after = identities.store(
        uow, identity, replace(identity, state=state, insi_at=uow.now()), "hl7_qualified"
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
    uow.identities.deactivate_ins(identity.id, uow.now())
    after = identities.store(uow, identity, replace(identity, state=state), "hl7_ins_withdrawn")
    uow.audit(
        "ins.withdrawn_by_referential",
        identity.id,
        {"status": identity.status.value},
        {"status": after.status.value},
    )
    return after
