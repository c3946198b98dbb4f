"""Duplicate pairs and full scans (identitovigilance)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import ActorDep, CtxDep
from app.api.duplicate_schemas import Dismissal, PairPage, PairRead, ScanRead
from app.services import duplicate_scan, duplicates

router = APIRouter(prefix="/duplicates", tags=["duplicates"])


@router.get("", response_model=PairPage)
def list_pairs(
    ctx: CtxDep, actor: ActorDep,
    status: Annotated[str | None, Query(max_length=10, description="open (default), dismissed, merged, "
                                                                   "linked; empty: any")] = "open",
    grade: Annotated[str | None, Query(max_length=10, description="certain, probable, possible "
                                                                  "(default: all three) or no_match")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PairPage:
    """Pairs, best score first, both identities side by side with the explanation."""
    views = duplicates.list_pairs(ctx, actor, status=status, grade=grade, limit=limit + 1, offset=offset)
    return PairPage(items=[PairRead.of(v, actor.roles) for v in views[:limit]], limit=limit, offset=offset,
                    has_more=len(views) > limit)


@router.post("/scans", status_code=202, response_model=ScanRead)
def request_scan(ctx: CtxDep, actor: ActorDep, response: Response) -> ScanRead:
    """Queue a full scan for the worker (`identito worker`); the scan already queued or running, if
    any, is returned instead of a second one."""
    scan, _ = duplicate_scan.request_scan(ctx, actor)
    response.headers["Location"] = f"/duplicates/scans/{scan.id}"
    return ScanRead.of(scan)


@router.get("/scans/{scan_id}", response_model=ScanRead)
def scan_status(scan_id: int, ctx: CtxDep, actor: ActorDep) -> ScanRead:
    """Progress and figures of a scan."""
    return ScanRead.of(duplicate_scan.scan_status(ctx, actor, scan_id))


@router.get("/{pair_id}", response_model=PairRead)
def get_pair(pair_id: int, ctx: CtxDep, actor: ActorDep) -> PairRead:
    """One pair, both identities side by side."""
    return PairRead.of(duplicates.get_pair(ctx, actor, pair_id), actor.roles)


@router.post("/{pair_id}/dismiss", response_model=PairRead)
def dismiss(pair_id: int, body: Dismissal, ctx: CtxDep, actor: ActorDep) -> PairRead:
    """Two persons, not a duplicate (reason required, audited on both identities): not proposed again
    unless a strict trait of either changes."""
    return PairRead.of(duplicates.dismiss_pair(ctx, actor, pair_id, body.reason), actor.roles)
