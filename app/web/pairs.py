"""The cell's duplicate pairs: the list (best score first), a pair's review (both identities side by
side, the engine's explanation per trait), and its decisions: dismiss with a reason, merge one
into the other with a reason and both versions as displayed. Unmerging is on the absorbed
identity's page (app/web/pages.py shows the form; the handler is here).

Refusals are the services' own messages: 412 when an identity changed since the page was shown
(the page is shown again as it is now), 409 for an RNIV refusal, 422 without a reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from app.api.errors import status_for
from app.api.schemas import IdentityRead
from app.domain.errors import DomainError, NotAllowed
from app.services import duplicates, merges
from app.services.context import Actor, ServiceContext
from app.web import compare
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.i18n_more import FOUND_BY_LABELS, PAIR_STATUS_LABELS
from app.web.pages import identity_view
from app.web.views import show_date

router = APIRouter()
_Reason = Annotated[str, Form(max_length=1000)]


@router.get("/cell/pairs", name="pairs")
def pair_list(request: Request, actor: ActorDep, ctx: CtxDep) -> Response:
    """Open pairs, best score first, with both identities."""
    words = request.app.state.words
    views = duplicates.list_pairs(ctx, actor, limit=100)
    pairs = [{"id": v.pair.id, "score": compare.score(v.pair.grade, v.pair.score, (), (), words),
              "low": IdentityRead.of(v.low, actor.roles), "high": IdentityRead.of(v.high, actor.roles),
              "found_by": words.of(FOUND_BY_LABELS, v.pair.found_by)} for v in views]
    return render(request, "pairs.html", pairs=pairs, show_date=lambda value: show_date(value, words))


def _pair_page(request: Request, ctx: ServiceContext, actor: Actor, pair_id: int, *, status: int = 200,
               error: str | None = None, reason: str = "") -> Response:
    words = request.app.state.words
    view = duplicates.get_pair(ctx, actor, pair_id)
    low, high = IdentityRead.of(view.low, actor.roles), IdentityRead.of(view.high, actor.roles)
    pair = view.pair
    return render(
        request, "pair.html", status_code=status, pair=pair, low=low, high=high,
        rows=compare.rows(low, high, words, extra=True),
        score=compare.score(pair.grade, pair.score, pair.explanation, pair.rules, words),
        status_text=words.of(PAIR_STATUS_LABELS, pair.status),
        found_by=words.of(FOUND_BY_LABELS, pair.found_by),
        decided_at=show_date(pair.decided_at, words), error=error, reason=reason)


@router.get("/cell/pairs/{pair_id}", name="pair")
def pair_page(request: Request, pair_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """A pair side by side, with the decisions."""
    return _pair_page(request, ctx, actor, pair_id)


def _refused(request: Request, ctx: ServiceContext, actor: Actor, pair_id: int, exc: DomainError,
             reason: str) -> Response:
    """The pair again, as it is now, with the service's message at the top."""
    if isinstance(exc, NotAllowed):
        raise exc
    message = exc.message(request.app.state.words.language)
    return _pair_page(request, ctx, actor, pair_id, status=status_for(exc) or 400, error=message,
                      reason=reason)


@router.post("/cell/pairs/{pair_id}/dismiss", name="pair_dismiss")
def dismiss(
    request: Request, pair_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep, reason: _Reason = ""
) -> Response:
    """Two persons, says the cell: the pair is set aside (reason required)."""
    try:
        duplicates.dismiss_pair(ctx, actor, pair_id, reason)
    except DomainError as exc:
        return _refused(request, ctx, actor, pair_id, exc, reason)
    request.state.session.flash = request.app.state.words("dismissed")
    return RedirectResponse(f"{PREFIX}/cell/pairs", status_code=303)


@router.post("/cell/pairs/{pair_id}/merge", name="pair_merge")
def merge(
    request: Request, pair_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
    survivor: Annotated[int, Form()], low_version: Annotated[int, Form()],
    high_version: Annotated[int, Form()],
    reason: _Reason = "",
) -> Response:
    """Merge the other identity of the pair into the one kept, both at the versions displayed."""
    view = duplicates.get_pair(ctx, actor, pair_id)
    low, high = view.pair.low_id, view.pair.high_id
    if survivor not in (low, high):
        return _pair_page(request, ctx, actor, pair_id, status=422, reason=reason,
                          error=request.app.state.words("bad_request"))
    absorbed = high if survivor == low else low
    versions = {low: low_version, high: high_version}
    try:
        merges.merge_identities(ctx, actor, survivor, absorbed, reason=reason,
                                survivor_version=versions[survivor], absorbed_version=versions[absorbed])
    except DomainError as exc:
        return _refused(request, ctx, actor, pair_id, exc, reason)
    request.state.session.flash = request.app.state.words("merged", absorbed=absorbed, survivor=survivor)
    return RedirectResponse(f"{PREFIX}/identities/{survivor}", status_code=303)


@router.post("/identities/{identity_id}/unmerge", name="unmerge")
def unmerge(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
            reason: _Reason = "") -> Response:
    """Undo the merge of this (absorbed) identity, with a reason."""
    try:
        merges.unmerge_identity(ctx, actor, identity_id, reason=reason)
    except DomainError as exc:
        if isinstance(exc, NotAllowed):
            raise
        return identity_view(request, identity_id, actor, ctx, status=status_for(exc) or 400,
                             unmerge_error=exc.message(request.app.state.words.language), reason=reason)
    request.state.session.flash = request.app.state.words("unmerged")
    return RedirectResponse(f"{PREFIX}/identities/{identity_id}", status_code=303)
