"""API schemas of duplicate detection: candidates, pairs side by side, scans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import IdentityRead
from app.services.duplicate_scan import ScanJob
from app.services.duplicates import Candidate, PairView


class TraitComparison(BaseModel):
    """One line of an explanation: the trait compared, the level found, the case, the weight (bits).
    Never a value of an identity."""

    trait: str
    level: str
    code: str
    weight: float


class CandidateRead(BaseModel):
    """An existing identity that may be the person of the traits checked."""

    identity: IdentityRead
    score: float = Field(description="Probability that both are one person, in [0, 1]")
    grade: str = Field(description="certain, probable or possible")
    explanation: list[TraitComparison]
    rules: list[str] = Field(description="Identitovigilance rules that bounded the grade")

    @classmethod
    def of(cls, candidate: Candidate, roles: frozenset[str]) -> CandidateRead:
        """Render a candidate for an actor."""
        result = candidate.result
        return cls(
            identity=IdentityRead.of(candidate.identity, roles), score=round(result.score, 4),
            grade=result.grade.value,
            explanation=[TraitComparison(trait=t.trait, level=t.level.value, code=t.code,
                                         weight=round(t.weight, 2)) for t in result.traits],
            rules=[r.value for r in result.rules],
        )


class PairRead(BaseModel):
    """Two identities that may be one person, side by side (lower id first), and the cell's decision."""

    id: int
    score: float
    grade: str
    status: str = Field(description="open, dismissed, merged or linked")
    found_by: str = Field(description="check (after a change), scan (full scan) or desk (confirm_new)")
    identities: list[IdentityRead]
    explanation: list[TraitComparison]
    rules: list[str]
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: PairView, roles: frozenset[str]) -> PairRead:
        """Render a pair with both identities."""
        pair = view.pair
        return cls(
            id=pair.id, score=round(pair.score, 4), grade=pair.grade, status=pair.status,
            found_by=pair.found_by,
            identities=[IdentityRead.of(view.low, roles), IdentityRead.of(view.high, roles)],
            explanation=[TraitComparison(**line) for line in pair.explanation], rules=list(pair.rules),
            reason=pair.reason, decided_by=pair.decided_by, decided_at=pair.decided_at,
            created_at=pair.created_at, updated_at=pair.updated_at,
        )


class PairPage(BaseModel):
    """A page of pairs, best score first."""

    items: list[PairRead]
    limit: int
    offset: int
    has_more: bool


class Dismissal(BaseModel):
    """Why the two identities are two persons."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class ScanRead(BaseModel):
    """A full scan: where it stands, its figures."""

    id: int
    status: str = Field(description="queued, running, done or failed")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    runner: str | None
    heartbeat_at: datetime | None
    identities_total: int
    identities_done: int
    progress: float = Field(description="Share of identities whose pairs are recorded, in [0, 1]")
    resume_after_id: int = Field(description="A resumed scan goes on after this identity id")
    comparisons: int
    pairs_found: int = Field(description="Pairs found at least possible")
    pairs_alert: int = Field(description="Of which probable or certain (worklist items)")
    figures: dict[str, Any]
    error: str | None

    @classmethod
    def of(cls, scan: ScanJob) -> ScanRead:
        """Render a scan."""
        total = scan.identities_total
        progress = scan.identities_done / total if total else (1.0 if scan.status == "done" else 0.0)
        return cls(
            id=scan.id, status=scan.status, created_by=scan.created_by, created_at=scan.created_at,
            started_at=scan.started_at, finished_at=scan.finished_at, runner=scan.runner,
            heartbeat_at=scan.heartbeat_at, identities_total=total, identities_done=scan.identities_done,
            progress=round(progress, 4),
            resume_after_id=scan.cursor_id, comparisons=scan.comparisons, pairs_found=scan.pairs_found,
            pairs_alert=scan.pairs_alert, figures=scan.figures, error=scan.error,
        )
