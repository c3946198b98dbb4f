"""Batch campaigns (identitovigilance): create, follow, pause/resume/cancel, report."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CtxDep, SettingsDep
from app.services import campaigns
from app.services.campaigns import Progress, ReportLine, Selection

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


class SelectionIn(BaseModel):
    """Which identities (criteria combine; DOUT/FICT and sex U are never selected)."""

    model_config = ConfigDict(extra="forbid")

    statuses: list[Literal["PROV", "RECUP", "VALI", "QUAL"]] = Field(default_factory=list)
    # Identity ids are 64-bit: a larger number was an overflow in the database driver (500).
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default_factory=list, max_length=100_000)
    insi_older_than_days: int | None = Field(default=None, ge=0, le=36_500)  # 100 years at most
    eligible: bool = Field(default=False,
                           description="All PROV and VALI identities whose traits are eligible")


class CampaignCreate(BaseModel):
    """A campaign to run in the worker with the INSI-AUTO certificate."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    operation: Literal["retrieve", "verify"] = "retrieve"
    selection: SelectionIn
    auto_apply: bool = Field(default=False, description="Apply exact matches (all strict traits equal) only")
    rate_limit: float | None = Field(default=None, ge=0, le=1000,
                                     description="Calls per second; 0 = unlimited")
    concurrency: int | None = Field(default=None, ge=1, le=64)


class CampaignRead(BaseModel):
    """Progress of a campaign."""

    id: int
    name: str
    operation: str
    status: str
    auto_apply: bool
    rate_limit: float | None
    concurrency: int
    total: int
    done: int
    in_flight: int
    outcomes: dict[str, int]
    rate_per_second: float
    eta_seconds: float | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    selection: dict[str, Any]


class ReportRow(BaseModel):
    """One identity of a campaign's report (JSON or a CSV line): empty text where there is nothing."""

    identity_id: int
    ipp: str | None
    state: str
    outcome: str
    code: str
    attempts: int
    finished_at: str
    worklist_item_id: int | str


def _read(progress: Progress) -> CampaignRead:
    return CampaignRead(**progress.__dict__)


def _report_row(line: ReportLine) -> dict[str, Any]:
    return ReportRow(identity_id=line.identity_id, ipp=line.ipp, state=line.state, outcome=line.outcome or "",
                     code=line.code or "", attempts=line.attempts,
                     finished_at=line.finished_at.isoformat() if line.finished_at else "",
                     worklist_item_id=line.worklist_item_id or "").model_dump()


def report_csv(lines: list[ReportLine]) -> str:
    """A campaign's report as CSV text (header, then one line per identity); the pages send the same."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ReportRow.model_fields))
    writer.writeheader()
    writer.writerows(_report_row(line) for line in lines)
    return buffer.getvalue()


@router.post("", status_code=201, response_model=CampaignRead)
def create(body: CampaignCreate, ctx: CtxDep, actor: ActorDep, settings: SettingsDep) -> CampaignRead:
    """Create a campaign; the worker (`identito worker`) runs it."""
    q = settings.qualification
    progress = campaigns.create_campaign(
        ctx, actor, name=body.name, operation=body.operation,
        selection=Selection(tuple(body.selection.statuses), tuple(body.selection.ids),
                            body.selection.insi_older_than_days, body.selection.eligible),
        auto_apply=body.auto_apply,
        rate_limit=body.rate_limit if body.rate_limit is not None else q.campaign_rate_limit,
        concurrency=body.concurrency or q.campaign_concurrency,
    )
    return _read(progress)


@router.get("", response_model=list[CampaignRead])
def list_all(ctx: CtxDep, actor: ActorDep) -> list[CampaignRead]:
    """Campaigns, newest first."""
    return [_read(p) for p in campaigns.list_campaigns(ctx, actor)]


@router.get("/{campaign_id}", response_model=CampaignRead)
def get(campaign_id: int, ctx: CtxDep, actor: ActorDep) -> CampaignRead:
    """Progress: done/total, outcomes, rate, ETA."""
    return _read(campaigns.progress(ctx, actor, campaign_id))


@router.post("/{campaign_id}/{action}", response_model=CampaignRead)
def change(campaign_id: int, action: Literal["pause", "resume", "cancel"], ctx: CtxDep,
           actor: ActorDep) -> CampaignRead:
    """Pause, resume or cancel."""
    return _read(campaigns.change_status(ctx, actor, campaign_id, action))


_REPORT_FORMATS: dict[int | str, dict[str, Any]] = {200: {"description": "One row per identity", "content": {
    "application/json": {"schema": {"type": "array", "items": ReportRow.model_json_schema()}},
    "text/csv": {"schema": {"type": "string"}}}}}


@router.get("/{campaign_id}/report", response_model=None, responses=_REPORT_FORMATS)
def report(campaign_id: int, ctx: CtxDep, actor: ActorDep,
           format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:
    """One row per identity with its outcome (JSON or CSV)."""
    lines = campaigns.report(ctx, actor, campaign_id)
    if format == "json":
        return [_report_row(line) for line in lines]
    return Response(report_csv(lines), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})
