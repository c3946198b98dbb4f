"""Links of identities kept apart (PAM FR A24 / A37), and collisions (COLP): flag and resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CtxDep
from app.api.schemas import IdentityCreate, IdentityRead, Reason
from app.services import collisions, identities, links
from app.services.links import LinkRecord

router = APIRouter(prefix="/identities", tags=["identities"])


class LinkCreate(BaseModel):
    """Link this identity with another one, kept apart (no merge)."""

    model_config = ConfigDict(extra="forbid")

    other_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=1000)


class UnlinkBody(BaseModel):
    """Why the link ends (or ``?reason=``)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class LinkRead(BaseModel):
    """A link as the cell reads it: the two identities (low id first), who, when, why, its end."""

    id: int
    identity_id: int
    other_id: int
    low_id: int
    high_id: int
    linked_at: datetime
    linked_by: str
    reason: str
    source: str
    standing: bool
    unlinked_at: datetime | None
    unlinked_by: str | None
    unlink_reason: str | None

    @classmethod
    def of(cls, link: LinkRecord, identity_id: int) -> LinkRead:
        """The link seen from one of its identities."""
        return cls(id=link.id, identity_id=identity_id, other_id=link.other(identity_id),
                   low_id=link.low_id, high_id=link.high_id, linked_at=link.linked_at,
                   linked_by=link.linked_by, reason=link.reason, source=link.source,
                   standing=link.unlinked_at is None, unlinked_at=link.unlinked_at,
                   unlinked_by=link.unlinked_by, unlink_reason=link.unlink_reason)


@router.post("/{identity_id}/links", status_code=201, response_model=LinkRead)
def link_identities(identity_id: int, body: LinkCreate, ctx: CtxDep, actor: ActorDep,
                    response: Response) -> LinkRead:
    """Link two open identities without merging them (identitovigilance): audited on both, their
    duplicate pair becomes ``linked``, subscribers receive an A24."""
    link = links.link_identities(ctx, actor, identity_id, body.other_id, reason=body.reason)
    response.headers["Location"] = f"/identities/{identity_id}/links"
    return LinkRead.of(link, identity_id)


@router.delete("/{identity_id}/links/{other_id}", response_model=LinkRead)
def unlink_identities(
    identity_id: int, other_id: int, ctx: CtxDep, actor: ActorDep,
    body: Annotated[UnlinkBody | None, Body()] = None,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> LinkRead:
    """End the standing link of two identities (identitovigilance), with a reason in the body or
    ``?reason=``: subscribers receive an A37."""
    text = (body.reason if body is not None else None) or reason
    link = links.unlink_identities(ctx, actor, identity_id, other_id, reason=text)
    return LinkRead.of(link, identity_id)


@router.get("/{identity_id}/links", response_model=list[LinkRead])
def links_of(identity_id: int, ctx: CtxDep, actor: ActorDep) -> list[LinkRead]:
    """The links of an identity, standing and ended, newest first (identitovigilance, admission)."""
    return [LinkRead.of(link, identity_id) for link in links.links_of(ctx, actor, identity_id)]


class CollisionResolve(BaseModel):
    """How the cell resolves a potential collision; ``traits`` of the second person for ``split``."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["not_a_collision", "demote", "set_aside_ins", "split"]
    reason: str = Field(min_length=1, max_length=1000)
    traits: IdentityCreate | None = None


class CollisionResolved(BaseModel):
    """The identity after the resolution, and the second person's identity after a split."""

    identity: IdentityRead
    created: IdentityRead | None = None


@router.post("/{identity_id}/collision", status_code=201)
def flag_collision(identity_id: int, body: Reason, ctx: CtxDep, actor: ActorDep) -> dict[str, int]:
    """Flag an identity as possibly covering two persons (COLP): opens a ``potential_collision``
    worklist item (identitovigilance, admission); audited."""
    return {"item_id": collisions.flag_collision(ctx, actor, identity_id, reason=body.reason)}


@router.post("/{identity_id}/collision/resolve", response_model=CollisionResolved)
def resolve_collision(
    identity_id: int, body: CollisionResolve, ctx: CtxDep, actor: ActorDep
) -> CollisionResolved:
    """Resolve a potential collision (identitovigilance): ``not_a_collision``, ``demote``,
    ``set_aside_ins`` or ``split`` (with the second person's ``traits``); closes the item."""
    traits = None
    if body.traits is not None:
        traits = identities.TraitsInput(**body.traits.model_dump(exclude={"ipp", "collection_method",
                                                                          "confirm_new"}))
    outcome = collisions.resolve_collision(ctx, actor, identity_id, body.action, reason=body.reason,
                                           traits=traits)
    return CollisionResolved(
        identity=IdentityRead.of(outcome.identity, actor.roles),
        created=IdentityRead.of(outcome.created, actor.roles) if outcome.created is not None else None,
    )
