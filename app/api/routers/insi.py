"""INSi routes: search (no identity change) and the read-only call journal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.api.deps import ActorDep, CtxDep
from app.api.insi_schemas import InsiAnswerOut, InsiCallOut, InsiCallPage, InsiSearchRequest
from app.api.problems import problem_responses
from app.domain.insi import InsiConfigurationError, InsiGateway
from app.domain.messages import register_terms
from app.services import insi as insi_service
from app.services.insi import InsiCallFilters

router = APIRouter(prefix="/insi", tags=["insi"])
register_terms({"INSi is not configured on this server": "l'INSi n'est pas configuré sur ce serveur"},
               parameter="detail")


def get_gateway(request: Request) -> InsiGateway:
    """The INSi gateway wired by the composition root."""
    gateway: InsiGateway | None = request.app.state.ctx.insi_gateway
    if gateway is None:
        raise InsiConfigurationError(detail="INSi is not configured on this server")
    return gateway


GatewayDep = Annotated[InsiGateway, Depends(get_gateway)]


@router.post("/search", response_model=InsiAnswerOut, responses=problem_responses(502, 504))
def search(body: InsiSearchRequest, actor: ActorDep, gateway: GatewayDep) -> InsiAnswerOut:
    """Ask INSi (traits or Carte Vitale); the answer is returned, no identity is changed."""
    query = body.traits.query() if body.traits else body.vitale.query()  # type: ignore[union-attr]
    relayed = body.relayed_assertion.encode("utf-8") if body.relayed_assertion else None
    answer = insi_service.search_insi(
        gateway, actor, query, identity_id=body.identity_id, relayed_assertion=relayed
    )
    return InsiAnswerOut.of(answer)


@router.get("/calls", response_model=InsiCallPage)
def list_calls(
    ctx: CtxDep,
    actor: ActorDep,
    requested_by: Annotated[str | None, Query(max_length=200)] = None,
    identity_id: int | None = None,
    operation: Annotated[str | None, Query(max_length=40)] = None,
    outcome: Annotated[str | None, Query(max_length=40, description="00, 01, 02 or an error code")] = None,
    credential_mode: Annotated[str | None, Query(max_length=24)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> InsiCallPage:
    """The INSi call journal, newest first (identitovigilance, admin)."""
    filters = InsiCallFilters(requested_by, identity_id, operation, outcome, credential_mode, since, until)
    rows = insi_service.list_insi_calls(ctx, actor, filters, limit=limit + 1, offset=offset)
    items = [InsiCallOut.model_validate(r) for r in rows[:limit]]
    return InsiCallPage(items=items, limit=limit, offset=offset, has_more=len(rows) > limit)
