"""The identitovigilance cell's worklists: counts per kind, the items of a kind (oldest first), an
item's detail and its resolution with a reason. The services check the roles (a desk agent gets
their 403 message); handlers shape what they return.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from app.api.schemas import IdentityRead
from app.domain.errors import InvalidTrait
from app.domain.messages import render as message
from app.domain.roles import require_any
from app.domain.worklist import EVENT_LABELS, KIND_LABELS, RESOLUTION_LABELS, Resolution, label
from app.services import duplicates, queries, worklists
from app.services.context import Actor, ServiceContext
from app.services.errors import MissingReason, NotFound
from app.services.worklists import WorklistItem
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.views import show_date, worklist_filters

router = APIRouter()
PAGE = 100
_SEARCH_PAGES = 50  # an item's page looks for it among this many pages of its kind at most


@router.get("/cell", name="cell")
def cell_home(request: Request, actor: ActorDep, ctx: CtxDep) -> Response:
    """Open items per kind, and the open duplicate pairs."""
    language = request.app.state.words.language
    counts = worklists.counts(ctx, actor)
    kinds = [(kind, label(KIND_LABELS, kind, language), n) for kind, n in counts.items()]
    pairs = None
    if set(actor.roles) & {r.value for r in duplicates.CELL}:
        pairs = len(duplicates.list_pairs(ctx, actor, limit=PAGE))
    return render(request, "cell.html", kinds=kinds, pairs=pairs)


@router.get("/cell/worklists/{kind}", name="worklist")
def worklist(
    request: Request, kind: str, actor: ActorDep, ctx: CtxDep,
    identity: Annotated[str, Query(max_length=20)] = "", older: Annotated[str, Query(max_length=10)] = "",
    opened_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    opened_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """The open items of one kind, oldest first, filtered (identity, age, date opened), a page at a time."""
    require_any(actor.roles, *worklists.CELL)  # before the filters: a refused role gets no page at all
    words = request.app.state.words
    typed = {"identity": identity, "older": older, "from": opened_from, "to": opened_to}
    filters = worklist_filters(typed, ctx.now(), words)
    items: list[WorklistItem] = []
    if not filters.errors:
        items = worklists.list_items(ctx, actor, kind, limit=PAGE + 1, offset=page * PAGE, **filters.values)
    return render(request, "worklist.html", kind=kind, kind_label=label(KIND_LABELS, kind, words.language),
                  items=items[:PAGE], more=len(items) > PAGE, page=page, filters=typed,
                  filter_errors=filters.errors, query=filters.query,
                  show_date=lambda value: show_date(value, words),
                  hint=lambda code: message(code, words.language) if code else "")


def _find(ctx: ServiceContext, actor: Actor, kind: str, item_id: int) -> WorklistItem:
    """An item of a kind (open or closed), from the kind's list (the services have no single read)."""
    for page in range(_SEARCH_PAGES):
        items = worklists.list_items(ctx, actor, kind, include_resolved=True, limit=500, offset=page * 500)
        found = next((i for i in items if i.id == item_id), None)
        if found is not None:
            return found
        if len(items) < 500:
            break
    raise NotFound(what="Worklist item", ident=item_id)


def _item_page(request: Request, ctx: ServiceContext, actor: Actor, item: WorklistItem, *, status: int = 200,
               error: str | None = None, resolution: str = "", reason: str = "") -> Response:
    words = request.app.state.words
    language = words.language
    identity = IdentityRead.of(queries.get_identity(ctx, actor, item.identity_id), actor.roles)
    closed = None
    if item.resolved_at is not None:
        how = (label(EVENT_LABELS, item.closing_event, language) if item.closing_event
               else label(RESOLUTION_LABELS, item.resolution or "", language))
        closed = words("item_closed", at=show_date(item.resolved_at, words), by=item.resolved_by,
                       resolution=how)
    return render(request, "item.html", status_code=status, item=item, identity=identity, closed=closed,
                  kind_label=label(KIND_LABELS, item.kind, language),
                  hint=message(item.hint, language) if item.hint else None,
                  resolutions=[(r.value, label(RESOLUTION_LABELS, r.value, language)) for r in Resolution],
                  show_date=lambda value: show_date(value, words), error=error, picked=resolution,
                  reason=reason)


@router.get("/cell/worklists/{kind}/{item_id}", name="worklist_item")
def item_page(request: Request, kind: str, item_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """One item: its identity, what happened, the suggested action, the resolution form."""
    return _item_page(request, ctx, actor, _find(ctx, actor, kind, item_id))


@router.post("/cell/worklists/{kind}/{item_id}/resolve", name="worklist_resolve")
def resolve(
    request: Request, kind: str, item_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
    resolution: Annotated[str, Form(max_length=20)] = "", reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Close the item with a resolution and a reason; the form again with the message otherwise."""
    words = request.app.state.words
    try:
        worklists.resolve_item(ctx, actor, item_id, resolution, reason)
    except (MissingReason, InvalidTrait) as exc:
        return _item_page(request, ctx, actor, _find(ctx, actor, kind, item_id), status=422,
                          error=exc.message(words.language), resolution=resolution, reason=reason)
    request.state.session.flash = words("resolved", n=item_id)
    return RedirectResponse(f"{PREFIX}/cell/worklists/{kind}", status_code=303)

