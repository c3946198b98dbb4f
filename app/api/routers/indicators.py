"""Identitovigilance indicators for the HAS certification file (identitovigilance, admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import ActorDep, CtxDep
from app.services import indicators as indicator_service

router = APIRouter(prefix="/indicators", tags=["indicators"])
MONTH = r"^\d{4}-\d{2}$"


class IndicatorRow(BaseModel):
    """One line: its label (a month ``YYYY-MM``, a status or an age bucket) and its values."""

    label: str
    values: list[int | float]


class IndicatorTableOut(BaseModel):
    """One table; ``columns`` name the values of each row, in order."""

    name: str = Field(description="identities, identities_created, insi_outcomes, worklist, worklist_age, "
                                  "duplicates or corrections")
    first: str = Field(description="What the rows' labels are: month, status or age")
    columns: list[str]
    monthly: bool
    rows: list[IndicatorRow]


class IndicatorsOut(BaseModel):
    """Every indicator of a period (calendar months in UTC, both ends included)."""

    first_month: str
    last_month: str
    generated_at: datetime
    tables: list[IndicatorTableOut]


@router.get("", response_model=IndicatorsOut)
def get_indicators(
    ctx: CtxDep, actor: ActorDep,
    from_month: Annotated[str | None, Query(alias="from", pattern=MONTH, description="First month")] = None,
    to_month: Annotated[str | None, Query(alias="to", pattern=MONTH, description="Last month")] = None,
) -> IndicatorsOut:
    """Identities per status and attribute; per month INSi outcomes, worklist items opened/closed and
    their age, duplicate pairs found/set aside, merges/unmerges, corrections (default: 12 months)."""
    report = indicator_service.indicators(ctx, actor, from_month, to_month)
    return IndicatorsOut(
        first_month=report.first_month, last_month=report.last_month, generated_at=report.generated_at,
        tables=[IndicatorTableOut(name=t.name, first=t.first, columns=list(t.columns), monthly=t.monthly,
                                  rows=[IndicatorRow(label=label, values=list(v)) for label, v in t.rows])
                for t in report.tables])
