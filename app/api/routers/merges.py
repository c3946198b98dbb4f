"""Merge and unmerge routes (identitovigilance): two identities of one person become one (ins-rniv §6)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CtxDep, VersionDep, etag
from app.api.schemas import IdentityRead, Reason
from app.db.merges import MergeRecord
from app.services import merges

router = APIRouter(prefix="/identities", tags=["duplicates"])


class MergeRequest(BaseModel):
    """The identity to absorb, the version of it that was reviewed, and why."""

    model_config = ConfigDict(extra="forbid")

    absorbed_id: int = Field(description="The identity merged into this one (closed by the merge)")
    absorbed_version: int = Field(ge=1, description="Its version as reviewed (its ETag): 412 if it changed")
    reason: str = Field(min_length=1, max_length=1000, description="Why: kept in both audit trails")


class MergeRead(BaseModel):
    """One merge an identity took part in."""

    id: int
    survivor_id: int
    absorbed_id: int
    merged_at: datetime
    merged_by: str
    reason: str
    source: str = Field(description="api (the cell) or hl7 (an A40 from the GAM)")
    undone: bool
    unmerged_at: datetime | None
    unmerged_by: str | None
    unmerge_reason: str | None

    @classmethod
    def of(cls, record: MergeRecord) -> MergeRead:
        """The read model of a merge record."""
        return cls(id=record.id, survivor_id=record.survivor_id, absorbed_id=record.absorbed_id,
                   merged_at=record.merged_at, merged_by=record.merged_by, reason=record.reason,
                   source=record.source, undone=record.unmerged_at is not None,
                   unmerged_at=record.unmerged_at, unmerged_by=record.unmerged_by,
                   unmerge_reason=record.unmerge_reason)


@router.post("/{survivor_id}/merge", response_model=IdentityRead)
def merge_identity(
    survivor_id: int, body: MergeRequest, ctx: CtxDep, actor: ActorDep, version: VersionDep,
    response: Response,
) -> IdentityRead:
    """Merge ``absorbed_id`` into this identity (If-Match: the survivor's version). Refused (409) for
    DOUT/FICT identities, two different active INS, or a survivor less reliable than the absorbed one;
    every subscriber receives an A40 (MRG-1 = the absorbed identity's IPP)."""
    survivor = merges.merge_identities(ctx, actor, survivor_id, body.absorbed_id, reason=body.reason,
                                       survivor_version=version, absorbed_version=body.absorbed_version)
    response.headers["ETag"] = etag(survivor.version)
    return IdentityRead.of(survivor, actor.roles)


@router.post("/{identity_id}/unmerge", response_model=IdentityRead)
def unmerge_identity(
    identity_id: int, body: Reason, ctx: CtxDep, actor: ActorDep, response: Response
) -> IdentityRead:
    """Undo the merge that closed this identity: it comes back as it was at the merge; subscribers
    receive an A28 for it and an A31 for the survivor (docs/duplicates.md)."""
    restored = merges.unmerge_identity(ctx, actor, identity_id, reason=body.reason)
    response.headers["ETag"] = etag(restored.version)
    return IdentityRead.of(restored, actor.roles)


@router.get("/{identity_id}/merges", response_model=list[MergeRead])
def identity_merges(identity_id: int, ctx: CtxDep, actor: ActorDep) -> list[MergeRead]:
    """The merges this identity took part in, as survivor or absorbed, newest first: from the survivor,
    the absorbed identities (their history and documents stay readable under their own id)."""
    return [MergeRead.of(r) for r in merges.merges_of(ctx, actor, identity_id)]
