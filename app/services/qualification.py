"""INS qualification at the desk: retrieve a proposal from INSi, accept or reject it, verify an INS.

The INSi call is made outside any database transaction; what it implies is then written in one
commit (proposal or worklist item, audit). Accepting applies the answer in one commit: INS stored
(active + history), strict traits replaced by the INSi traits exactly as returned (EXI REC 07),
status PROV -> RECUP or VALI -> QUAL (RNIV EXI SI 07).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from app.db.proposals import Proposal
from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.identity import CollectionMethod, Identity
from app.domain.ins import Ins, InsRecord, check_not_held_elsewhere
from app.domain.insi import (
    CallContext,
    CallPurpose,
    CrCode,
    InsEntry,
    InsiAnswer,
    InsiError,
    InsiGateway,
    ResolvedSearch,
    VitaleQuery,
)
from app.domain.insi_rules import (
    check_insi_sex,
    check_traits_query,
    check_vitale_query,
    compare_verification,
    differing_traits,
    query_from_traits,
    resolve_several,
)
from app.domain.messages import register, register_terms
from app.domain.roles import Role, require_any
from app.domain.status import Event, Status
from app.domain.traits import Sex, TraitName, Traits, derive_first_name
from app.domain.worklist import ClosingEvent, Hint, WorklistKind, not_found_hint
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import MissingReason, NotFound
from app.services.identities import check_version, load, store
from app.services.worklists import close_items, open_item

DESK = (Role.ADMISSION, Role.IDENTITOVIGILANCE)

register("insi-traits-not-eligible", "{field} cannot be sent to INSi as it is: correct it first.",
         "{field} ne peut pas être envoyé à l'INSi en l'état : corrigez-le d'abord.")
register("proposal-expired", "This INSi proposal has expired: run the retrieval again.",
         "Cette proposition INSi a expiré : relancez la récupération.")
register("proposal-stale",
         "The identity changed since this INSi proposal (version {made_for}, now {current}): "
         "run the retrieval again.",
         "L'identité a changé depuis cette proposition INSi (version {made_for}, maintenant {current}) : "
         "relancez la récupération.")
register("proposal-closed", "This INSi proposal was already {status}.",
         "Cette proposition INSi a déjà été traitée ({status}).")
register_terms({"accepted": "acceptée", "rejected": "refusée"}, parameter="status")
register_terms({"no INSi gateway configured": "aucune passerelle INSi configurée"}, parameter="detail")
register("ins-missing", "The identity holds no INS to verify.", "L'identité ne porte pas d'INS à vérifier.")


@dataclass(frozen=True)
class TraitComparison:
    """One strict trait, locally and as INSi returned it."""

    trait: str
    local: str | None
    insi: str | None
    result: str  # equal | differs | missing


@dataclass(frozen=True)
class RetrievalResult:
    """What the desk sees after a retrieval: a proposal, or why there is none."""

    outcome: str  # found | not_found | ambiguous | collision
    identity: Identity
    answer: dict[str, Any] | None = None
    proposal_id: str | None = None
    expires_at: datetime | None = None
    comparison: list[TraitComparison] = field(default_factory=list)
    status_after: Status | None = None
    attempts: list[dict[str, str]] = field(default_factory=list)
    worklist_item_id: int | None = None
    other_identity_id: int | None = None
    hint: str | None = None  # the suggested action (a message code) when INSi found nobody or several


def check_eligible(identity: Identity) -> None:
    """INSi is refused for a merged identity, DOUT/FICT (EXI SI 09), sex U, and traits outside the
    INS profile."""
    identity.check_open()
    identity.state.check_insi_allowed()
    check_insi_sex(identity.traits.sex.value, of_identity=True)
    try:
        check_traits_query(query_from_traits(identity.traits, all_first_names=True, with_place=True))
    except InvalidTrait as exc:
        raise RuleViolation("insi-traits-not-eligible", field=exc.field) from exc


def answer_to_json(answer: InsiAnswer) -> dict[str, Any]:
    """A JSON-safe copy of an answer (stored with the proposal and shown to the desk)."""

    def entry(e: InsEntry | None) -> dict[str, Any] | None:
        if e is None:
            return None
        return {"matricule": e.matricule.matricule, "oid": e.oid, "start": e.start, "end": e.end}

    t = answer.traits
    return {
        "code": answer.code.value, "label": answer.label, "message_id": answer.message_id,
        "active": entry(answer.active), "history": [entry(h) for h in answer.history],
        "traits": None if t is None else {
            "birth_name": t.birth_name, "first_names": t.first_names, "first_name": t.first_name,
            "sex": t.sex, "birth_date": t.birth_date, "birth_place_code": t.birth_place_code,
        },
    }


def returned_traits(answer: dict[str, Any], local: Traits) -> Traits:
    """The strict traits exactly as INSi returned them, keeping the local complementary traits."""
    t = answer["traits"]
    names = t["first_names"] or ""
    return replace(
        local,
        birth_name=t["birth_name"],
        first_names=names,
        first_name=t.get("first_name") or derive_first_name(names),
        sex=Sex(t["sex"]),
        birth_date=date.fromisoformat(t["birth_date"]),
        birth_date_completed=False,
        birth_place_code=t.get("birth_place_code"),
    )


def compare(local: Traits, answer: dict[str, Any]) -> list[TraitComparison]:
    """Field-by-field comparison of the local strict traits with the INSi ones."""
    insi = returned_traits(answer, local)
    rows = []
    for name in (TraitName.BIRTH_NAME, TraitName.FIRST_NAMES, TraitName.FIRST_NAME, TraitName.SEX,
                 TraitName.BIRTH_DATE, TraitName.BIRTH_PLACE_CODE):
        mine, theirs = _text(getattr(local, name)), _text(getattr(insi, name))
        result = "equal" if mine == theirs else ("missing" if mine is None or theirs is None else "differs")
        rows.append(TraitComparison(name.value, mine, theirs, result))
    return rows


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _context(
    actor: Actor, identity_id: int, purpose: CallPurpose, assertion: bytes | None = None
) -> CallContext:
    return CallContext(requested_by=actor.subject, purpose=purpose, identity_id=identity_id,
                       relayed_assertion=assertion)


def _gateway(ctx: ServiceContext) -> InsiGateway:
    if ctx.insi_gateway is None:
        from app.domain.insi import InsiConfigurationError

        raise InsiConfigurationError(detail="no INSi gateway configured")
    return ctx.insi_gateway  # type: ignore[no-any-return]


def search_identity(
    ctx: ServiceContext, identity: Identity, context: CallContext, vitale: VitaleQuery | None = None
) -> ResolvedSearch:
    """Call INSi for an identity: Vitale data when given, else traits with the CR 02 strategy."""
    gateway = _gateway(ctx)
    if vitale is not None:
        check_vitale_query(vitale)
        answer = gateway.search_by_vitale(vitale, context)
        if answer.code is not CrCode.SEVERAL:
            return ResolvedSearch(answer)
    return resolve_several(lambda query: gateway.search_by_traits(query, context), identity.traits)


def verification_search(ctx: ServiceContext, identity: Identity, context: CallContext) -> InsiAnswer:
    """The traits search that verifies a stored INS (there is no public verification operation)."""
    return _gateway(ctx).search_by_traits(query_from_traits(identity.traits), context)


def record_failure(ctx: ServiceContext, actor: Actor, identity_id: int, error: InsiError, source: str) -> int:
    """A fault leaves the identity untouched and opens an insi_unavailable item (never 'not found')."""
    with ctx.unit_of_work(actor) as uow:
        hint = Hint.RETRY_LATER if error.retryable else Hint.CONFIGURATION
        item = open_item(uow, WorklistKind.INSI_UNAVAILABLE, identity_id, error.code, hint=hint,
                         details={"error": error.journal_code, "message_id": error.message_id}, source=source)
        uow.commit()
    return item


def retrieve(
    ctx: ServiceContext, actor: Actor, identity_id: int, *, vitale: VitaleQuery | None = None,
    relayed_assertion: bytes | None = None,
) -> RetrievalResult:
    """Desk step 1: ask INSi and return a proposal the agent accepts or rejects (RNIV EXI SI 07)."""
    require_any(actor.roles, *DESK)
    with ctx.unit_of_work(actor) as uow:
        identity = load(uow, identity_id, for_update=False)
    check_eligible(identity)
    context = _context(actor, identity_id, CallPurpose.ATTENDED, relayed_assertion)
    try:
        search = search_identity(ctx, identity, context, vitale)
    except InsiError as error:
        record_failure(ctx, actor, identity_id, error, "desk")
        raise
    with ctx.unit_of_work(actor) as uow:
        result = handle_answer(ctx, uow, identity, search, source="desk", auto_apply=False)
        uow.commit()
    return result


def handle_answer(
    ctx: ServiceContext,
    uow: UnitOfWork, identity: Identity, search: ResolvedSearch, *, source: str, auto_apply: bool
) -> RetrievalResult:
    """Turn an answer into a proposal, an applied qualification, or a worklist item (one transaction)."""
    answer = search.answer
    attempts = [{"step": a.step, "code": a.code.value} for a in search.attempts]
    data = answer_to_json(answer)
    found = answer.code not in (CrCode.NOT_FOUND, CrCode.SEVERAL) and answer.active is not None
    close_items(uow, identity.id, ClosingEvent.INSI_IDENTITY_FOUND if found else ClosingEvent.INSI_ANSWERED)
    if answer.code is CrCode.NOT_FOUND:
        hint = not_found_hint(identity.traits, uow.today())
        item = open_item(uow, WorklistKind.INSI_NOT_FOUND, identity.id, "01", hint=hint,
                         details={"attempts": attempts}, source=source)
        return RetrievalResult("not_found", identity, data, attempts=attempts, worklist_item_id=item,
                               hint=hint.value)
    if answer.code is CrCode.SEVERAL or answer.active is None:
        item = open_item(uow, WorklistKind.INSI_AMBIGUOUS, identity.id, "02",
                         hint=Hint.ADD_FIRST_NAMES_OR_PLACE, details={"attempts": attempts}, source=source)
        return RetrievalResult("ambiguous", identity, data, attempts=attempts, worklist_item_id=item,
                               hint=Hint.ADD_FIRST_NAMES_OR_PLACE.value)
    other = _collision(uow, identity.id, answer.active.matricule.matricule)
    if other is not None:
        item = open_item(uow, WorklistKind.INS_COLLISION, identity.id, "00", hint=Hint.DUPLICATE_OR_COLLISION,
                         other_identity_id=other, details={"message_id": answer.message_id}, source=source)
        return RetrievalResult("collision", identity, data, attempts=attempts, worklist_item_id=item,
                               other_identity_id=other)
    comparison = compare(identity.traits, data)
    status_after, _ = identity.state.insi_retrieved()
    exact = not differing_traits(identity.traits, answer)
    if auto_apply and exact:
        applied = apply_answer(uow, identity, data, source=source)
        return RetrievalResult("applied", applied, data, comparison=comparison,
                               status_after=applied.status, attempts=attempts)
    item = None
    if not exact:
        item = open_item(uow, WorklistKind.TRAITS_DIFFER, identity.id, "00", hint=Hint.COMPARE_TRAITS,
                         details={"differs": [c.trait for c in comparison if c.result != "equal"]},
                         source=source)
    elif source != "desk":
        item = open_item(uow, WorklistKind.INSI_FOUND, identity.id, "00", hint=Hint.REVIEW_FOUND,
                         source=source)
    # The CR 02 attempts are kept with the proposal, for the desk's comparison page.
    proposal = _new_proposal(ctx, uow, identity, {**data, "attempts": attempts})
    return RetrievalResult("found", identity, data, proposal.id, proposal.expires_at, comparison,
                           status_after.status, attempts, item)


def _collision(uow: UnitOfWork, identity_id: int, matricule: str) -> int | None:
    holder = uow.identities.id_by_active_ins(matricule)
    return holder if holder is not None and holder != identity_id else None


def _new_proposal(ctx: ServiceContext, uow: UnitOfWork, identity: Identity, data: dict[str, Any]) -> Proposal:
    now = uow.now()
    proposal = Proposal(
        id=str(uuid.uuid4()), identity_id=identity.id, identity_version=identity.version, answer=data,
        created_by=uow.actor.subject, created_at=now,
        expires_at=now + timedelta(seconds=ctx.proposal_ttl_seconds),
    )
    uow.proposals.add(proposal)
    return proposal


def apply_answer(uow: UnitOfWork, identity: Identity, data: dict[str, Any], *, source: str) -> Identity:
    """Store the INS and the INSi traits, move PROV -> RECUP / VALI -> QUAL (EXI REC 07, EXI SI 07)."""
    state, _ = identity.state.insi_retrieved()
    now = uow.now()
    active = data["active"]
    check_not_held_elsewhere(uow.identities.id_by_active_ins(active["matricule"]), identity.id)
    uow.identities.deactivate_ins(identity.id, now)
    known = {r.ins.matricule for r in identity.ins_records}
    for entry in data["history"]:
        if entry and entry["matricule"] not in known and entry["matricule"] != active["matricule"]:
            uow.identities.add_ins(identity.id, _record(entry, active=False), now)
            known.add(entry["matricule"])
    uow.identities.add_ins(identity.id, _record(active, active=True), now)
    traits = returned_traits(data, identity.traits)
    # The strict traits are now those INSi returned: collected by the teleservice (ZFD-5 INSI).
    after = replace(identity, traits=traits, state=state, insi_at=now, source=CollectionMethod.INSI.value)
    saved = store(uow, identity, after, "insi_retrieved", message_id=data["message_id"])
    uow.audit("insi.accepted", identity.id, identity.snapshot(), saved.snapshot(),
              f"INSi {data['message_id']} ({source})")
    close_items(uow, identity.id, ClosingEvent.INSI_TRAITS_APPLIED)
    return saved


def _record(entry: dict[str, Any], *, active: bool) -> InsRecord:
    return InsRecord(Ins(entry["matricule"], entry["oid"]), active, "INSI",
                     _date(entry.get("start")), _date(entry.get("end")))


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _proposal(uow: UnitOfWork, identity_id: int, proposal_id: str) -> Proposal:
    proposal = uow.proposals.get_for_update(proposal_id)
    if proposal is None or proposal.identity_id != identity_id:
        raise NotFound(what="INSi proposal", ident=proposal_id)
    if proposal.status != "open":
        raise RuleViolation("proposal-closed", status=proposal.status)
    expires = proposal.expires_at
    if expires.tzinfo is None:  # SQLite gives it back without a zone
        expires = expires.replace(tzinfo=uow.now().tzinfo)
    if expires <= uow.now():
        raise RuleViolation("proposal-expired")
    return proposal


def open_proposal(ctx: ServiceContext, actor: Actor, identity_id: int, proposal_id: str) -> RetrievalResult:
    """An open, unexpired proposal again, compared with the identity as it is now (the desk's page)."""
    require_any(actor.roles, *DESK)
    with ctx.unit_of_work(actor) as uow:
        identity = load(uow, identity_id, for_update=False)
        proposal = _proposal(uow, identity_id, proposal_id)
    if proposal.identity_version != identity.version:
        raise RuleViolation("proposal-stale", made_for=proposal.identity_version, current=identity.version)
    data = {k: v for k, v in proposal.answer.items() if k != "attempts"}
    status_after, _ = identity.state.insi_retrieved()
    return RetrievalResult("found", identity, data, proposal.id, proposal.expires_at,
                           compare(identity.traits, data), status_after.status,
                           list(proposal.answer.get("attempts", [])))


def accept(ctx: ServiceContext, actor: Actor, identity_id: int, proposal_id: str,
           expected_version: int | None) -> Identity:
    """Desk step 2: apply an open, unexpired proposal made for the current version."""
    require_any(actor.roles, *DESK)
    with ctx.unit_of_work(actor) as uow:
        identity = load(uow, identity_id)
        check_version(identity, expected_version)
        proposal = _proposal(uow, identity_id, proposal_id)
        if proposal.identity_version != identity.version:
            raise RuleViolation("proposal-stale", made_for=proposal.identity_version,
                                current=identity.version)
        saved = apply_answer(uow, identity, proposal.answer, source="desk")
        uow.proposals.decide(proposal_id, "accepted", by=actor.subject, at=uow.now())
        uow.commit()
    return saved


def reject(ctx: ServiceContext, actor: Actor, identity_id: int, proposal_id: str, reason: str) -> None:
    """Desk step 2 (refusal): record the refusal and its reason; the identity is unchanged."""
    require_any(actor.roles, *DESK)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="rejection")
    with ctx.unit_of_work(actor) as uow:
        proposal = _proposal(uow, identity_id, proposal_id)
        uow.proposals.decide(proposal_id, "rejected", by=actor.subject, at=uow.now(), reason=reason)
        uow.audit("insi.rejected", identity_id, None, {"proposal": proposal_id,
                  "message_id": proposal.answer.get("message_id")}, reason, full=True)
        uow.commit()


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of re-checking a stored INS and the identity after its consequence."""

    verdict: str
    identity: Identity
    differing_traits: tuple[str, ...] = ()
    worklist_item_id: int | None = None


def verify(ctx: ServiceContext, actor: Actor, identity_id: int, *,
           purpose: CallPurpose = CallPurpose.ATTENDED, source: str = "desk") -> VerificationResult:
    """Re-check a stored INS; confirmed refreshes the INSi date, anything else demotes (EXI SI 07)."""
    require_any(actor.roles, Role.ADMISSION, Role.IDENTITOVIGILANCE, Role.INTEGRATION)
    with ctx.unit_of_work(actor) as uow:
        identity = load(uow, identity_id, for_update=False)
    ins = identity.active_ins
    if ins is None:
        raise RuleViolation("ins-missing")
    check_eligible(identity)
    try:
        answer = verification_search(ctx, identity, _context(actor, identity_id, purpose))
    except InsiError as error:
        record_failure(ctx, actor, identity_id, error, source)
        raise
    with ctx.unit_of_work(actor) as uow:
        result = apply_verification(uow, identity, ins, answer, source=source)
        uow.commit()
    return result


def apply_verification(uow: UnitOfWork, identity: Identity, ins: Ins, answer: InsiAnswer, *,
                       source: str) -> VerificationResult:
    """Apply a verification verdict inside a unit of work."""
    current = load(uow, identity.id)
    verification = compare_verification(current.traits, ins, answer)
    if verification.verdict.value == "confirmed":
        after = replace(current, insi_at=uow.now())
        saved = store(uow, current, after, "insi_verified")
        uow.audit("insi.verified", current.id, None,
                  {"verdict": "confirmed", "message_id": answer.message_id}, full=True)
        close_items(uow, current.id, ClosingEvent.INS_VERIFIED)
        return VerificationResult("confirmed", saved)
    close_items(uow, current.id, ClosingEvent.INSI_ANSWERED)
    state, events = current.state.insi_lost()
    if Event.INS_DEACTIVATED in events or current.active_ins is not None:
        uow.identities.deactivate_ins(current.id, uow.now())
    saved = store(uow, current, replace(current, state=state), "insi_verification_failed")
    details = {"verdict": verification.verdict.value, "differs": list(verification.differing_traits),
               "message_id": answer.message_id, "returned": answer_to_json(answer)["active"]}
    item = open_item(uow, WorklistKind.VERIFICATION_FAILED, current.id, verification.verdict.value,
                     hint=Hint.COMPARE_TRAITS, details=details, source=source)
    uow.audit("insi.verification_failed", current.id, current.snapshot(), saved.snapshot(),
              f"verification {verification.verdict.value}")
    return VerificationResult(verification.verdict.value, saved, verification.differing_traits, item)

