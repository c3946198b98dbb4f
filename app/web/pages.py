"""Desk pages: search as you type, the identity page (traits, status, INS, documents, history).

Handlers call the same services as the API (app.services.queries) and only shape what they return
for the templates. Patient traits travel in POST bodies, never in a URL: an identity page is
addressed by its internal id only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from app.api.schemas import IdentityRead
from app.domain.errors import DomainError, NotAllowed
from app.domain.roles import require_any
from app.services import queries
from app.services.context import Actor, ServiceContext
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.views import history_entries, search_date, show_date

router = APIRouter()
MAX_ROWS = 20
_Text = Annotated[str, Form(max_length=100)]


@router.get("/", name="home")
def home(request: Request, actor: ActorDep) -> Response:
    """The search page, the desk's starting point."""
    return render(request, "search.html", form={}, rows=None, error=None)


@router.get("/search", include_in_schema=False)
def search_get() -> Response:
    """A reload of the results' address goes back to the empty search page."""
    return RedirectResponse(f"{PREFIX}/", status_code=303)


@router.post("/search", name="search")
def search(
    request: Request, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
    name: _Text = "", first_name: _Text = "", birth_date: _Text = "", ipp: _Text = "", ins: _Text = "",
) -> Response:
    """Identities matching the typed criteria (the rows fragment for htmx, the whole page otherwise)."""
    require_any(actor.roles, *queries.SEARCHERS)  # an empty form too: a refused role gets no page at all
    form = {"name": name, "first_name": first_name, "birth_date": birth_date, "ipp": ipp, "ins": ins}
    rows: list[IdentityRead] | None = None
    error = None
    if any(v.strip() for v in form.values()):
        try:
            found = queries.search_identities(
                ctx, actor, birth_name=name or None, first_name=first_name or None,
                birth_date=search_date(birth_date) or None, ipp=ipp or None,
                ins=ins.replace(" ", "") or None, limit=MAX_ROWS)
            rows = [IdentityRead.of(identity, actor.roles) for identity in found]
        except NotAllowed:
            raise
        except DomainError as exc:
            error = exc.message(request.app.state.words.language)
    partial = bool(request.headers.get("HX-Request"))
    return render(request, "_results.html" if partial else "search.html", form=form, rows=rows, error=error)


@router.get("/identities/{identity_id}", name="identity")
def identity_page(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """One identity: traits, status and attributes, INS, documents, history."""
    return identity_view(request, identity_id, actor, ctx)


def identity_view(request: Request, identity_id: int, actor: Actor, ctx: ServiceContext, *, status: int = 200,
                  unmerge_error: str | None = None, reason: str = "", **extra: Any) -> Response:
    """The identity page (with the unmerge form's message when it was refused; ``extra``: the INSi
    actions' message and the document form as typed, app/web/insi.py)."""
    words = request.app.state.words
    identity = IdentityRead.of(queries.get_identity(ctx, actor, identity_id), actor.roles)
    try:
        history = history_entries(queries.identity_history(ctx, actor, identity_id), words)
        documents = queries.identity_documents(ctx, actor, identity_id)
    except NotAllowed:
        history, documents = None, None
    return render(request, "identity.html", status_code=status, identity=identity, history=history,
                  documents=documents, unmerge_error=unmerge_error, reason=reason,
                  show_date=lambda value: show_date(value, words), **extra)
