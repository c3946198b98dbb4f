"""The desk's INSi screens: retrieve by the identity's traits, the side-by-side comparison, accept or
reject with a reason, verify a stored INS, and record the identity document checked.

Handlers call app.services.qualification and app.services.identities (the same use cases and roles
as the API) and shape what they return; the RNIV consequences (PROV -> RECUP, VALI/RECUP -> QUAL...)
are the services'. A proposal page is addressed by the identity's number and the proposal's id only:
no trait in any address.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from app.api.errors import status_for
from app.api.schemas import IdentityRead
from app.domain.documents import DocumentType
from app.domain.errors import DomainError, NotAllowed
from app.domain.messages import render as message
from app.services import identities, qualification
from app.services.context import Actor, ServiceContext
from app.services.errors import NotFound
from app.services.qualification import RetrievalResult
from app.web import compare
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.i18n import Words
from app.web.i18n_insi import ATTEMPT_STEPS, CR_LABELS, DOCUMENT_LABELS, VERDICT_LABELS
from app.web.pages import identity_view
from app.web.views import show_date

router = APIRouter()
_Id = Annotated[str, Form(max_length=36)]
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_FR = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# Which worklist an outcome without proposal opened its item in.
_ITEM_KINDS = {"not_found": "insi_not_found", "ambiguous": "insi_ambiguous", "collision": "ins_collision"}
_LABEL_KEYS = dict(compare.ROWS) | {"birth_place_code": "birth_place"}


def template_globals(words: Words) -> dict[str, Any]:
    """What the identity page's actions need: the RNIV list of document types, in its order."""
    return {"document_types": [(d.value, f"{d.value} – {words.of(DOCUMENT_LABELS, d.value)}")
                               for d in DocumentType]}


def _identity(request: Request, ctx: ServiceContext, actor: Actor, identity_id: int, exc: DomainError,
              **extra: Any) -> Response:
    """The identity page again, with a refusal's message in its actions area."""
    words = request.app.state.words
    return identity_view(request, identity_id, actor, ctx, status=status_for(exc) or 400,
                         insi_error=exc.message(words.language), **extra)


def _passes(exc: DomainError) -> bool:
    """Refusals shown as the error page rather than next to the actions (no right, no identity)."""
    return isinstance(exc, (NotAllowed, NotFound))


@router.post("/identities/{identity_id}/insi/retrieve", name="insi_retrieve")
def retrieve(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep) -> Response:
    """Ask INSi with the identity's traits (CR 02 strategy): the comparison, or why there is none."""
    try:
        result = qualification.retrieve(ctx, actor, identity_id)
    except DomainError as exc:
        if _passes(exc):
            raise
        return _identity(request, ctx, actor, identity_id, exc)
    words = request.app.state.words
    if result.outcome == "found":
        if result.worklist_item_id is not None:
            request.state.session.flash = words("insi_item_traits", n=result.worklist_item_id)
        return RedirectResponse(f"{PREFIX}/identities/{identity_id}/insi/proposals/{result.proposal_id}",
                                status_code=303)
    return _page(request, actor, result, words)


@router.get("/identities/{identity_id}/insi/proposals/{proposal_id}", name="insi_proposal")
def proposal_page(
    request: Request, identity_id: int, proposal_id: str, actor: ActorDep, ctx: CtxDep
) -> Response:
    """An open proposal side by side with the identity as it is now, and the accept/reject forms."""
    try:
        result = qualification.open_proposal(ctx, actor, identity_id, proposal_id[:36])
    except DomainError as exc:
        if _passes(exc):
            raise
        return _identity(request, ctx, actor, identity_id, exc)
    return _page(request, actor, result, request.app.state.words)


def _page(request: Request, actor: Actor, result: RetrievalResult, words: Words, *, status: int = 200,
          error: str | None = None, reason: str = "") -> Response:
    answer = result.answer or {}
    rows = [_row(c, words) for c in result.comparison]
    attempts = [(words.of(ATTEMPT_STEPS, a["step"]), a["code"], words.of(CR_LABELS, a["code"]))
                for a in result.attempts]
    hint = message(result.hint, words.language) if result.hint else None
    return render(request, "insi.html", status_code=status, result=result,
                  shown=IdentityRead.of(result.identity, actor.roles),
                  rows=rows, differs=any(r.mark == "differs" for r in rows), attempts=attempts,
                  show_attempts=len(attempts) > 1 or any(a[1] == "02" for a in attempts),
                  code=answer.get("code"), label=answer.get("label"),
                  code_meaning=words.of(CR_LABELS, answer.get("code") or ""),
                  ins=answer.get("active"), ins_history=[h for h in answer.get("history", []) if h],
                  item_kind=_ITEM_KINDS.get(result.outcome), hint=hint,
                  expires=show_date(result.expires_at, words) if result.expires_at else None,
                  error=error, reason=reason)


def _row(c: qualification.TraitComparison, words: Words) -> compare.Row:
    """One strict trait on both sides, marked as the service compared it (none: empty on both)."""
    mark = "none" if c.local is None and c.insi is None else c.result
    local, insi = _shown(c.local, words) or "—", _shown(c.insi, words) or "—"
    return compare.Row(words(_LABEL_KEYS[c.trait]), local, insi, mark, words(f"cmp_{mark}"))


def _shown(value: str | None, words: Words) -> str:
    """A compared value as the page writes it (an ISO date the French way)."""
    if value and _ISO.fullmatch(value):
        return show_date(date.fromisoformat(value), words)
    return value or ""


@router.post("/identities/{identity_id}/insi/proposals/{proposal_id}/accept", name="insi_accept")
def accept(request: Request, identity_id: int, proposal_id: str, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
           version: Annotated[int | None, Form()] = None) -> Response:
    """Apply the proposal: INS and INSi traits stored, the new status on the identity page."""
    words = request.app.state.words
    try:
        identity = qualification.accept(ctx, actor, identity_id, proposal_id[:36], version)
    except DomainError as exc:
        if _passes(exc):
            raise
        return _identity(request, ctx, actor, identity_id, exc)
    status = identity.status.value
    request.state.session.flash = words("insi_accepted", status=status, meaning=words.status(status))
    return RedirectResponse(f"{PREFIX}/identities/{identity_id}", status_code=303)


@router.post("/identities/{identity_id}/insi/proposals/{proposal_id}/reject", name="insi_reject")
def reject(request: Request, identity_id: int, proposal_id: str, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
           reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Refuse the proposal with a reason (required: the comparison again with the message)."""
    words = request.app.state.words
    try:
        qualification.reject(ctx, actor, identity_id, proposal_id[:36], reason)
    except DomainError as exc:
        if _passes(exc):
            raise
        try:
            again = qualification.open_proposal(ctx, actor, identity_id, proposal_id[:36])
        except DomainError:
            return _identity(request, ctx, actor, identity_id, exc)
        return _page(request, actor, again, words, status=status_for(exc) or 400,
                     error=exc.message(words.language), reason=reason)
    request.state.session.flash = words("insi_rejected")
    return RedirectResponse(f"{PREFIX}/identities/{identity_id}", status_code=303)


@router.post("/identities/{identity_id}/insi/verify", name="insi_verify")
def verify(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep) -> Response:
    """Re-check the stored INS with INSi; the verdict and its consequence on the identity page."""
    words = request.app.state.words
    try:
        result = qualification.verify(ctx, actor, identity_id)
    except DomainError as exc:
        if _passes(exc):
            raise
        return _identity(request, ctx, actor, identity_id, exc)
    if result.verdict == "confirmed":
        request.state.session.flash = words("insi_verified")
    else:
        status = result.identity.status.value
        item = words("insi_item_opened", n=result.worklist_item_id) if result.worklist_item_id else ""
        if result.differing_traits:
            traits = ", ".join(words.field(t) for t in result.differing_traits)
            item = f"{words('insi_differing', traits=traits)} {item}"
        verdict = words.of(VERDICT_LABELS, result.verdict)
        request.state.session.flash = words("insi_verify_failed", verdict=verdict,
                                            status=f"{status} ({words.status(status)})", item=item).strip()
    return RedirectResponse(f"{PREFIX}/identities/{identity_id}", status_code=303)


def _expiry(typed: str) -> date | None:
    """An expiry date typed JJ/MM/AAAA (or AAAA-MM-JJ); ValueError when it is not a date."""
    text = typed.strip()
    if not text:
        return None
    if _ISO.fullmatch(text):
        return date.fromisoformat(text)
    match = _FR.fullmatch(text)
    if match is None:
        raise ValueError(text)
    day, month, year = (int(g) for g in match.groups())
    return date(year, month, day)


@router.post("/identities/{identity_id}/documents", name="document_record")
def record_document(
    request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
    doc_type: Annotated[str, Form(alias="type", max_length=40)] = "",
    expires_on: Annotated[str, Form(max_length=20)] = "",
    no_expiry_printed: Annotated[bool, Form()] = False, version: Annotated[int | None, Form()] = None,
) -> Response:
    """Record the identity document checked at the desk; the status the rules give, on the identity page."""
    words = request.app.state.words
    form = {"type": doc_type, "expires_on": expires_on, "no_expiry_printed": no_expiry_printed}
    try:
        expiry = _expiry(expires_on)
    except ValueError:
        return identity_view(request, identity_id, actor, ctx, status=422, doc_form=form,
                             doc_error=words("doc_expires_invalid"), doc_field="expires_on")
    try:
        identity, check = identities.record_document(
            ctx, actor, identity_id, identities.DocumentInput(doc_type, expiry, no_expiry_printed),
            expected_version=version)
    except DomainError as exc:
        if _passes(exc):
            raise
        return identity_view(request, identity_id, actor, ctx, status=status_for(exc) or 400, doc_form=form,
                             doc_error=exc.message(words.language), doc_field=exc.field)
    status = identity.status.value
    key = "doc_recorded" if check.high_trust else "doc_recorded_low"
    request.state.session.flash = words(key, type=check.type, status=status, meaning=words.status(status))
    return RedirectResponse(f"{PREFIX}/identities/{identity_id}", status_code=303)
