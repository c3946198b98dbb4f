"""Identity use cases: create, edit, record/withdraw documents, attributes. One function, one commit."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from app.db.errors import DuplicateKey, StaleRow
from app.domain.documents import (
    DocumentCheck,
    any_counts,
    check_document,
    check_not_recorded,
    parse_document_type,
)
from app.domain.duplicates import ALERT_GRADES, FoundBy
from app.domain.errors import InvalidTrait
from app.domain.identifiers import OWN, Authority
from app.domain.identity import CollectionMethod, Identity
from app.domain.matching import from_identity, from_traits, score_pair
from app.domain.roles import Role, check_strict_edit, require_any
from app.domain.status import Attribute, Event, IdentityState
from app.domain.traits import TraitName, Traits, build_traits
from app.domain.worklist import ClosingEvent, expired_document_outcome
from app.services.context import Actor, IdentityChange, ServiceContext, UnitOfWork
from app.services.errors import (
    Conflict,
    MissingReason,
    NotFound,
    ProbableDuplicate,
    StaleVersion,
    VersionRequired,
)
from app.services.matching import FoundPair, candidates_for, record_pairs
from app.services.worklists import close_items

EDITORS = (Role.ADMISSION, Role.IDENTITOVIGILANCE, Role.INTEGRATION)
TRAIT_FIELDS = tuple(t.value for t in TraitName)


@dataclass(frozen=True)
class TraitsInput:
    """Raw traits as typed at a desk or received in a message (validated by the domain)."""

    birth_name: str
    first_names: str
    birth_date: str | date
    sex: str
    first_name: str | None = None
    birth_place_code: str | None = None
    used_name: str | None = None
    used_first_name: str | None = None


@dataclass(frozen=True)
class DocumentInput:
    """An identity document checked at the desk (or by a trusted referential), as typed."""

    type: str
    expires_on: date | None = None
    no_expiry_printed: bool = False


def build(ctx: ServiceContext, data: TraitsInput) -> Traits:
    """Traits as typed, validated and normalised by the domain (``InvalidTrait`` otherwise)."""
    return _build(ctx, data)


def _build(ctx: ServiceContext, data: TraitsInput) -> Traits:
    return build_traits(
        birth_name=data.birth_name,
        first_names=data.first_names,
        first_name=data.first_name,
        birth_date=data.birth_date,
        sex=data.sex,
        birth_place_code=data.birth_place_code,
        used_name=data.used_name,
        used_first_name=data.used_first_name,
        today=ctx.today(),
        known_birth_places=ctx.birth_place_codes,
    )


def load(uow: UnitOfWork, identity_id: int, *, for_update: bool = True) -> Identity:
    """Load an identity or raise NotFound; loaded to change it (``for_update``), it must be open."""
    identity = uow.identities.get(identity_id, for_update=for_update)
    if identity is None:
        raise NotFound(what="Identity", ident=identity_id)
    if for_update:
        identity.check_open()
    return identity


def read_identity(ctx: ServiceContext, identity_id: int) -> Identity:
    """Read an identity outside any transaction (one autocommit statement) or raise NotFound."""
    with ctx.reading() as reader:
        identity = reader.identities.get(identity_id)
    if identity is None:
        raise NotFound(what="Identity", ident=identity_id)
    return identity


def check_version(identity: Identity, expected_version: int | None, *, required: bool = True) -> None:
    """Optimistic locking: the caller must have read the current version."""
    if expected_version is None:
        if required:
            raise VersionRequired()
        return
    if expected_version != identity.version:
        raise StaleVersion(current=identity.version)


def store(uow: UnitOfWork, before: Identity, after: Identity, trigger: str, **details: Any) -> Identity:
    """Save an identity with a version check and queue the change for the sinks."""
    before.check_open()
    try:
        version = uow.identities.save(after, expected_version=before.version, now=uow.now())
    except StaleRow:
        current = uow.identities.get(before.id, for_update=False)
        raise StaleVersion(current=current.version if current else before.version) from None
    # What was written is what the row now holds: no reload, except the INS records when this
    # transaction added or deactivated one (``after`` may carry the records read before).
    saved = replace(after, version=version)
    if uow.identities.ins_touched(after.id):
        saved = replace(saved, ins_records=uow.identities.ins_records(after.id))
    uow.changed(IdentityChange(saved, before, trigger, uow.actor, details))
    return saved


def create_identity(
    ctx: ServiceContext, actor: Actor, data: TraitsInput, *, ipp: str | None = None, source: str = "SM",
    confirm_new: bool = False,
) -> Identity:
    """Create a provisional identity (RNIV EXI SI 07: a new identity is PROV); ``source`` is how
    its traits were collected (ZFD-5).

    Refused (``ProbableDuplicate``, with the candidates) when an existing identity is a certain or
    probable duplicate of it (ins-rniv §6), unless ``confirm_new``: then created, the candidates
    shown are audited with it and their pairs proposed to the cell (found at the desk).
    """
    require_any(actor.roles, *EDITORS)
    method = CollectionMethod.parse(source)
    traits = _build(ctx, data)
    record = from_traits(traits)
    with ctx.reading() as reader:
        if ipp and ipp.strip() and reader.identities.id_by_ipp(ipp.strip()) is not None:
            raise Conflict("ipp-exists", field="ipp", ipp=ipp.strip())  # said before any duplicate
        candidates = candidates_for(reader, record, ctx.duplicates)
    alerts = [c for c in candidates if c.result.grade in ALERT_GRADES]
    if alerts and not confirm_new:
        raise ProbableDuplicate(alerts, actor.roles)
    with ctx.unit_of_work(actor) as uow:
        identity = create_in(ctx, uow, traits, ipp=ipp, source=method.value)
        if alerts:
            shown = [{"identity_id": c.identity.id, "grade": c.result.grade.value,
                      "score": round(c.result.score, 4)} for c in alerts]
            uow.audit("identity.created_despite_duplicates", identity.id, None,
                      {"confirm_new": True, "candidates": shown}, full=True)
            created = from_identity(identity)
            record_pairs(uow, [FoundPair(created, from_identity(c.identity),
                                         score_pair(created, from_identity(c.identity), ctx.duplicates.model))
                               for c in alerts], FoundBy.DESK)
        uow.commit()
    return identity


def create_in(
    ctx: ServiceContext, uow: UnitOfWork, traits: Traits, *, ipp: str | None, source: str,
    authority: Authority = OWN,
) -> Identity:
    """Create an identity inside an open unit of work (its IPP of ``authority``, Identito's by
    default; an IPP is generated in Identito's domain when none is given)."""
    ipp = ipp.strip() if ipp else None
    if ipp and uow.identities.id_by_ipp(ipp, authority) is not None:
        raise Conflict("ipp-exists", field="ipp", ipp=ipp)
    try:
        identity_id = uow.identities.add(traits, IdentityState(), ipp, source, uow.now(), authority)
        if not ipp:
            uow.identities.set_ipp(identity_id, f"{ctx.ipp_prefix}{identity_id:09d}")
    except DuplicateKey:
        raise Conflict("ipp-exists", field="ipp", ipp=ipp or "?") from None
    identity = load(uow, identity_id, for_update=False)
    uow.audit("identity.created", identity.id, None, identity.snapshot(), full=True)
    uow.changed(IdentityChange(identity, None, "created", uow.actor))
    return identity


def _merged_input(current: Traits, changes: dict[str, Any]) -> TraitsInput:
    values: dict[str, Any] = {name: getattr(current, name) for name in TRAIT_FIELDS}
    values["sex"] = current.sex.value
    values.update(changes)
    if "first_names" in changes and "first_name" not in changes:
        values["first_name"] = None  # re-derived from the new list (Guide EXI ID 10)
    return TraitsInput(**values)


def update_identity(
    ctx: ServiceContext,
    actor: Actor,
    identity_id: int,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
    reason: str | None = None,
    document: DocumentInput | None = None,
) -> Identity:
    """Edit traits; a strict-trait change drops the INSi fact, and the document fact unless a
    high-trust document is checked with it (EXI REC 07, ins-rniv §3)."""
    require_any(actor.roles, *EDITORS)
    unknown = set(changes) - set(TRAIT_FIELDS)
    if unknown:
        raise ValueError(f"unknown traits: {sorted(unknown)}")
    with ctx.unit_of_work(actor) as uow:
        before = load(uow, identity_id)
        check_version(before, expected_version)
        updated = edit_traits(ctx, uow, before, changes, reason, document=document)
        uow.commit()
    return updated


def edit_traits(
    ctx: ServiceContext, uow: UnitOfWork, before: Identity, changes: dict[str, Any], reason: str | None, *,
    document: DocumentInput | None = None,
) -> Identity:
    """Apply typed trait changes inside an open unit of work (``apply_traits``)."""
    traits = _build(ctx, _merged_input(before.traits, changes))
    if "birth_date" not in changes:
        traits = traits.with_changes(
            birth_date=before.traits.birth_date, birth_date_completed=before.traits.birth_date_completed
        )
    return apply_traits(ctx, uow, before, traits, reason, document=document)


def apply_traits(
    ctx: ServiceContext, uow: UnitOfWork, before: Identity, traits: Traits, reason: str | None, *,
    document: DocumentInput | None = None, method: str | None = None,
) -> Identity:
    """Give an identity new traits, with the RNIV rules of a strict-trait change (ins-rniv §3).

    ``document``: a document checked with the change (kept as the new C when high-trust);
    ``method``: how the new traits were collected (ZFD-5); by default a strict change is typed (SM).
    """
    source = CollectionMethod.parse(method).value if method else before.source
    if traits == before.traits and source == before.source:
        return before
    strict = traits.strict_differences(before.traits)
    state, events, check = before.state, [], None
    if strict:
        check_strict_edit(uow.actor.roles, before.status)
        high_trust = _document_high_trust(ctx, document)
        state, events = before.state.strict_trait_edited(document_checked=high_trust, reason=reason)
        source = source if method else CollectionMethod.SM.value
        now = uow.now()
        if Event.INS_DEACTIVATED in events:
            uow.identities.deactivate_ins(before.id, now)
        if Event.DOCUMENTS_SET_ASIDE in events:
            uow.documents.set_aside(before.id, uow.actor.subject, "strict traits changed", now)
        if document is not None:
            check = _add_check(uow, before.id, document, high_trust)
    after = _replace(before, traits=traits, state=state, source=source)
    if check is not None:  # the document first, then the change it was checked for
        _audit_check(uow, check, before, after, "strict-change")
        if check.high_trust:
            close_items(uow, before.id, ClosingEvent.DOCUMENT_CHECKED)
    saved = store(uow, before, after, "updated", strict=sorted(strict))
    uow.audit("identity.updated", before.id, before.snapshot(), saved.snapshot(), reason)
    return saved


def _document_high_trust(ctx: ServiceContext, document: DocumentInput | None) -> bool:
    """Whether a document checked with a change is high-trust (refused when expired, EXI SI 10)."""
    if document is None:
        return False
    doc_type = parse_document_type(document.type)
    return check_document(doc_type, document.expires_on, ctx.today(), ctx.high_trust_documents,
                          no_expiry_printed=document.no_expiry_printed)


def _add_check(uow: UnitOfWork, identity_id: int, document: DocumentInput, high_trust: bool) -> DocumentCheck:
    return uow.documents.add(
        identity_id, parse_document_type(document.type).value, high_trust=high_trust,
        checked_by=uow.actor.subject, checked_at=uow.now(), expires_on=document.expires_on,
        no_expiry_printed=document.no_expiry_printed,
    )


def _audit_check(uow: UnitOfWork, check: DocumentCheck, before: Identity, after: Identity, why: str) -> None:
    uow.audit(
        "document.recorded",
        before.id,
        {"status": before.status.value},
        {"document_id": check.id, "type": check.type, "high_trust": check.high_trust,
         "expires_on": check.expires_on.isoformat() if check.expires_on else None,
         "no_expiry_printed": check.no_expiry_printed, "with": why, "status": after.status.value},
        full=True,
    )


def _replace(identity: Identity, **changes: Any) -> Identity:
    return replace(identity, **changes)


def record_document(
    ctx: ServiceContext,
    actor: Actor,
    identity_id: int,
    document: DocumentInput,
    *,
    expected_version: int | None,
) -> tuple[Identity, DocumentCheck]:
    """Record a high-trust document check: PROV -> VALI, RECUP -> QUAL (RNIV EXI SI 07/10/23)."""
    require_any(actor.roles, Role.ADMISSION, Role.IDENTITOVIGILANCE)
    doc_type = parse_document_type(document.type)
    with ctx.unit_of_work(actor) as uow:
        before = load(uow, identity_id)
        check_version(before, expected_version)
        high_trust = check_document(doc_type, document.expires_on, ctx.today(), ctx.high_trust_documents,
                                    no_expiry_printed=document.no_expiry_printed)
        check_not_recorded(uow.documents.of_identity(identity_id), doc_type, document.expires_on)
        state, events = before.state.document_checked(high_trust)
        check = _add_check(uow, before.id, document, high_trust)
        after = store(uow, before, _replace(before, state=state), "document_checked") if events else before
        _audit_check(uow, check, before, after, "desk")
        if high_trust:
            close_items(uow, before.id, ClosingEvent.DOCUMENT_CHECKED)
        uow.commit()
    return after, check


def withdraw_document(
    ctx: ServiceContext, actor: Actor, identity_id: int, document_id: int, *, reason: str | None
) -> Identity:
    """Withdraw a document check found false or wrong; C drops if none other stands (ins-rniv §3)."""
    require_any(actor.roles, Role.ADMISSION, Role.IDENTITOVIGILANCE)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="withdrawal")
    with ctx.unit_of_work(actor) as uow:
        before = load(uow, identity_id)
        withdrawn = uow.documents.withdraw(identity_id, document_id, at=uow.now(), by=actor.subject,
                                                     reason=reason)
        if withdrawn is None:
            raise NotFound(what="Document", ident=document_id)
        others = any_counts(uow.documents.of_identity(identity_id), ctx.today(), except_id=document_id)
        state, events = before.state.document_withdrawn(others)
        after = store(uow, before, _replace(before, state=state), "document_withdrawn") if events else before
        uow.audit("document.withdrawn", before.id,
                  {"document_id": document_id, "status": before.status.value},
                  {"status": after.status.value}, reason, full=True)
        close_items(uow, before.id, ClosingEvent.EXPIRED_DOCUMENT_WITHDRAWN,
                    outcome=expired_document_outcome(document_id))
        uow.commit()
    return after


def set_attribute(
    ctx: ServiceContext, actor: Actor, identity_id: int, code: str, *,
    reason: str | None, expected_version: int | None = None,
) -> Identity:
    """Set DOUT/FICT/HOMA; DOUT/FICT force PROV and invalidate the INS (RNIV EXI SI 09)."""
    return _change_attribute(ctx, actor, identity_id, code, reason, expected_version, remove=False)


def remove_attribute(
    ctx: ServiceContext, actor: Actor, identity_id: int, code: str, *,
    reason: str | None, expected_version: int | None = None,
) -> Identity:
    """Remove an attribute; the identity stays PROV until checked again (RNIV EXI SI 09)."""
    return _change_attribute(ctx, actor, identity_id, code, reason, expected_version, remove=True)


def _change_attribute(
    ctx: ServiceContext, actor: Actor, identity_id: int, code: str, reason: str | None,
    expected_version: int | None, *, remove: bool,
) -> Identity:
    """One attribute change in one transaction, with the consequences the domain reports."""
    require_any(actor.roles, Role.IDENTITOVIGILANCE)
    attribute = _attribute(code)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="attribute")
    verb = "removed" if remove else "set"
    with ctx.unit_of_work(actor) as uow:
        before = load(uow, identity_id)
        check_version(before, expected_version, required=False)
        transition = before.state.attribute_removed if remove else before.state.attribute_set
        state, events = transition(attribute)
        if not events:
            return before
        now = ctx.now()
        if Event.INS_DEACTIVATED in events:
            uow.identities.deactivate_ins(before.id, now)
        if Event.DOCUMENTS_SET_ASIDE in events:
            uow.documents.set_aside(before.id, actor.subject, f"attribute {code}", now)
        after = store(uow, before, _replace(before, state=state), f"attribute_{verb}", attribute=code)
        uow.audit(f"attribute.{verb}", before.id, before.snapshot(), after.snapshot(), reason)
        uow.commit()
    return after


def _attribute(code: str) -> Attribute:
    try:
        return Attribute(code.strip().upper())
    except (ValueError, AttributeError):
        raise InvalidTrait("attribute-unknown", field="code", value=str(code)[:10]) from None
