"""Desk INS qualification: retrieve a proposal from INSi, accept or reject it, verify a stored INS."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, CtxDep, VersionDep, etag
from app.api.problems import problem_responses
from app.api.schemas import IdentityRead
from app.domain.errors import InvalidTrait
from app.domain.insi import Matricule, VitaleQuery
from app.domain.messages import register
from app.services import qualification

router = APIRouter(prefix="/identities/{identity_id}/insi", tags=["qualification"])
register("vitale-data-missing",
         "A Carte Vitale search needs the insured matricule, birth name and birth date.",
         "Une recherche par carte Vitale nécessite le matricule de l'assuré, le nom et la date de naissance.")


class MatriculeIn(BaseModel):
    """A matricule read from the Carte Vitale."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(pattern=r"^[0-9]{5}[0-9AB]{2}[0-9]{6}$", description="13 characters")
    key: str = Field(pattern=r"^[0-9]{2}$")
    kind: str | None = Field(default=None, max_length=2)


class RetrieveRequest(BaseModel):
    """By traits (the stored ones), or with the Carte Vitale read at the desk."""

    model_config = ConfigDict(extra="forbid")

    by: Literal["traits", "vitale"]
    insured: MatriculeIn | None = None
    beneficiary: MatriculeIn | None = None
    birth_name: str | None = Field(default=None, max_length=100)
    birth_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    birth_rank: int = Field(default=1, ge=1, le=9)
    vitale_assertion: str | None = Field(default=None, max_length=200_000, description="Signed XML, as read")
    relayed_assertion: str | None = Field(default=None, max_length=200_000,
                                          description="The desk's signed CPS assertion, placed unchanged")


class Comparison(BaseModel):
    """One strict trait side by side."""

    trait: str
    local: str | None
    insi: str | None
    result: Literal["equal", "differs", "missing"]


class RetrievalRead(BaseModel):
    """The proposal (or why there is none) the desk agent decides on."""

    outcome: Literal["found", "not_found", "ambiguous", "collision", "applied"]
    identity_id: int
    identity_version: int
    status: str
    status_after_accept: str | None
    proposal_id: str | None
    expires_at: datetime | None
    comparison: list[Comparison]
    ins: dict[str, Any] | None
    ins_history: list[dict[str, Any]]
    answer_code: str | None
    answer_label: str | None
    attempts: list[dict[str, str]]
    worklist_item_id: int | None
    other_identity_id: int | None


class Decision(BaseModel):
    """Accept or reject a proposal."""

    model_config = ConfigDict(extra="forbid")

    proposal_id: str = Field(max_length=36)
    reason: str | None = Field(default=None, max_length=1000)


class VerificationRead(BaseModel):
    """The verdict and the identity after its RNIV consequence."""

    verdict: str
    differing_traits: list[str]
    worklist_item_id: int | None
    identity: IdentityRead


def _vitale(body: RetrieveRequest) -> VitaleQuery | None:
    if body.by != "vitale":
        return None
    if body.insured is None or not body.birth_name or not body.birth_date:
        raise InvalidTrait("vitale-data-missing", field="insured")
    return VitaleQuery(
        insured=Matricule(body.insured.number, body.insured.key, body.insured.kind),
        beneficiary=(Matricule(body.beneficiary.number, body.beneficiary.key, body.beneficiary.kind)
                     if body.beneficiary else None),
        birth_name=body.birth_name, birth_date=body.birth_date, birth_rank=body.birth_rank,
        vitale_assertion=body.vitale_assertion.encode() if body.vitale_assertion else None,
    )


@router.post("/retrieve", response_model=RetrievalRead, responses=problem_responses(502, 504))
def retrieve(identity_id: int, body: RetrieveRequest, ctx: CtxDep, actor: ActorDep) -> RetrievalRead:
    """Ask INSi (CR 02 strategy applied) and return a proposal; nothing changes until it is accepted."""
    result = qualification.retrieve(
        ctx, actor, identity_id, vitale=_vitale(body),
        relayed_assertion=body.relayed_assertion.encode() if body.relayed_assertion else None,
    )
    answer = result.answer or {}
    return RetrievalRead(
        outcome=result.outcome, identity_id=result.identity.id, identity_version=result.identity.version,
        status=result.identity.status.value,
        status_after_accept=result.status_after.value if result.status_after else None,
        proposal_id=result.proposal_id, expires_at=result.expires_at,
        comparison=[Comparison(**c.__dict__) for c in result.comparison],
        ins=answer.get("active"), ins_history=[h for h in answer.get("history", []) if h],
        answer_code=answer.get("code"), answer_label=answer.get("label"), attempts=result.attempts,
        worklist_item_id=result.worklist_item_id, other_identity_id=result.other_identity_id,
    )


@router.post("/accept", response_model=IdentityRead)
def accept(identity_id: int, body: Decision, ctx: CtxDep, actor: ActorDep, version: VersionDep,
           response: Response) -> IdentityRead:
    """Apply the proposal (If-Match required): INS stored, INSi traits stored as returned."""
    identity = qualification.accept(ctx, actor, identity_id, body.proposal_id, version)
    response.headers["ETag"] = etag(identity.version)
    return IdentityRead.of(identity, actor.roles)


@router.post("/reject", status_code=204)
def reject(identity_id: int, body: Decision, ctx: CtxDep, actor: ActorDep) -> Response:
    """Record the refusal of a proposal and its reason."""
    if not body.reason:
        from app.services.errors import MissingReason

        raise MissingReason(field="reason", why="rejection")
    qualification.reject(ctx, actor, identity_id, body.proposal_id, body.reason)
    return Response(status_code=204)


@router.post("/verify", response_model=VerificationRead, responses=problem_responses(502, 504))
def verify(identity_id: int, ctx: CtxDep, actor: ActorDep) -> VerificationRead:
    """Re-check the stored INS with INSi and apply the RNIV consequence of the verdict."""
    result = qualification.verify(ctx, actor, identity_id)
    return VerificationRead(verdict=result.verdict, differing_traits=list(result.differing_traits),
                            worklist_item_id=result.worklist_item_id,
                            identity=IdentityRead.of(result.identity, actor.roles))
