"""Identitovigilance worklists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CtxDep, SettingsDep
from app.domain.messages import render
from app.domain.worklist import EVENT_LABELS, KIND_LABELS, label
from app.services import worklists
from app.services.worklists import WorklistItem

router = APIRouter(prefix="/worklists", tags=["worklists"])


class WorklistItemRead(BaseModel):
    """One case for the identitovigilance cell."""

    id: int
    kind: str
    kind_label: str = Field(description="The kind, in the configured language")
    identity_id: int
    other_identity_id: int | None
    outcome: str
    details: dict[str, Any]
    suggested_action: str | None
    source: str
    created_at: datetime
    created_by: str
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    resolution_reason: str | None
    occurrences: int = Field(description="How many times its cause occurred while it was open (retries)")
    last_occurred_at: datetime | None
    closing_event: str | None = Field(description="The event that closed it by itself (resolution automatic)")
    closing_event_label: str | None


class WorklistPage(BaseModel):
    """A page of items, oldest first."""

    kind: str
    items: list[WorklistItemRead]
    limit: int
    offset: int


class Resolve(BaseModel):
    """How the case was handled."""

    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(max_length=20, description="corrected, confirmed, merged, retried or no_action")
    reason: str = Field(min_length=1, max_length=1000)


def _read(item: WorklistItem, language: str) -> WorklistItemRead:
    hint = render(item.hint, language) if item.hint else None
    event = label(EVENT_LABELS, item.closing_event, language) if item.closing_event else None
    return WorklistItemRead(**{k: v for k, v in item.__dict__.items() if k != "hint"}, suggested_action=hint,
                            closing_event_label=event, kind_label=label(KIND_LABELS, item.kind, language))


@router.get("", response_model=dict[str, int])
def counts(ctx: CtxDep, actor: ActorDep) -> dict[str, int]:
    """Open items per kind."""
    return worklists.counts(ctx, actor)


@router.get("/{kind}", response_model=WorklistPage)
def list_items(
    kind: str, ctx: CtxDep, actor: ActorDep, settings: SettingsDep,
    include_resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> WorklistPage:
    """Items of one kind, oldest first."""
    items = worklists.list_items(ctx, actor, kind, include_resolved=include_resolved, limit=limit,
                                 offset=offset)
    return WorklistPage(kind=kind, items=[_read(i, settings.language) for i in items], limit=limit,
                        offset=offset)


@router.post("/items/{item_id}/resolve", response_model=WorklistItemRead)
def resolve(
    item_id: int, body: Resolve, ctx: CtxDep, actor: ActorDep, settings: SettingsDep
) -> WorklistItemRead:
    """Close an item with a resolution and a reason (audited); 409 when it is already closed."""
    item = worklists.resolve_item(ctx, actor, item_id, body.resolution, body.reason)
    return _read(item, settings.language)
