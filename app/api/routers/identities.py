"""Identity repository routes: create, read, search, edit, documents, attributes, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from app.api.deps import ActorDep, CtxDep, VersionDep, etag
from app.api.duplicate_schemas import CandidateRead
from app.api.schemas import (
    AttributeSet,
    AuditRead,
    DocumentCreate,
    DocumentRead,
    DocumentRecorded,
    IdentityCreate,
    IdentityPage,
    IdentityRead,
    IdentityUpdate,
    Reason,
)
from app.domain.documents import DocumentCheck
from app.domain.identity import Identity
from app.services import duplicates, identities, queries
from app.services.errors import MissingReason

router = APIRouter(prefix="/identities", tags=["identities"])


def _read(identity: Identity, actor: ActorDep, response: Response) -> IdentityRead:
    response.headers["ETag"] = etag(identity.version)
    return IdentityRead.of(identity, actor.roles)


def _document(check: DocumentCheck) -> DocumentRead:
    return DocumentRead.model_validate(check, from_attributes=True)


_NOT_TRAITS = {"ipp", "collection_method", "confirm_new"}
_CANDIDATES = TypeAdapter(list[CandidateRead])


@router.post("", status_code=201, response_model=IdentityRead)
def create_identity(body: IdentityCreate, ctx: CtxDep, actor: ActorDep, response: Response) -> IdentityRead:
    """Create a provisional identity (PROV); 409 ``probable-duplicate`` with the candidates when an
    existing identity is a certain or probable duplicate, unless ``confirm_new`` (audited)."""
    data = identities.TraitsInput(**body.model_dump(exclude=_NOT_TRAITS))
    identity = identities.create_identity(ctx, actor, data, ipp=body.ipp, source=body.collection_method,
                                          confirm_new=body.confirm_new)
    response.headers["Location"] = f"/identities/{identity.id}"
    return _read(identity, actor, response)


@router.post("/candidates", response_model=list[CandidateRead])
def candidates(
    body: IdentityCreate, ctx: CtxDep, actor: ActorDep,
    limit: Annotated[int | None, Query(ge=1, le=50, description="Default: the configured number")] = None,
) -> Response:
    """Existing identities that may be the person of these traits (the body of a creation), best
    first, at least possible: score, grade, explanation per trait (admission, identitovigilance)."""
    data = identities.TraitsInput(**body.model_dump(exclude=_NOT_TRAITS))
    found = duplicates.find_candidates(ctx, actor, data, limit=limit)
    # Serialised once here (as the search does): returning the models would validate them again.
    items = [CandidateRead.of(c, actor.roles) for c in found]
    return Response(_CANDIDATES.dump_json(items), media_type="application/json")


@router.get("", response_model=IdentityPage)
def search_identities(
    ctx: CtxDep,
    actor: ActorDep,
    birth_name: Annotated[
        str | None, Query(max_length=100, description="Prefix; also matches the used name")
    ] = None,
    exact: Annotated[bool, Query(description="Exact name match instead of prefix")] = False,
    first_name: Annotated[str | None, Query(max_length=100)] = None,
    birth_date: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD, YYYY-MM or YYYY")] = None,
    sex: Annotated[str | None, Query(max_length=1)] = None,
    birth_place_code: Annotated[str | None, Query(max_length=5)] = None,
    ipp: Annotated[str | None, Query(max_length=64)] = None,
    ins: Annotated[str | None, Query(max_length=20, description="Active or historic matricule")] = None,
    status: Annotated[str | None, Query(max_length=10, description="PROV, RECUP, VALI or QUAL")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """Search active identities (names: prefix, accents, case, apostrophes, hyphens, spaces ignored)."""
    found = queries.search_identities(
        ctx, actor, birth_name=birth_name, exact=exact, first_name=first_name, birth_date=birth_date,
        sex=sex, birth_place_code=birth_place_code, ipp=ipp, ins=ins, status=status,
        limit=limit + 1, offset=offset,
    )
    items = [IdentityRead.of(i, actor.roles) for i in found[:limit]]
    page = IdentityPage(items=items, limit=limit, offset=offset, has_more=len(found) > limit)
    # Serialised once here: returning the model would make FastAPI validate it all over again.
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/{identity_id}", response_model=IdentityRead)
def get_identity(identity_id: int, ctx: CtxDep, actor: ActorDep, response: Response) -> IdentityRead:
    """Read one identity (ETag = version)."""
    return _read(queries.get_identity(ctx, actor, identity_id), actor, response)


@router.patch("/{identity_id}", response_model=IdentityRead)
def update_identity(
    identity_id: int, body: IdentityUpdate, ctx: CtxDep, actor: ActorDep, version: VersionDep,
    response: Response,
) -> IdentityRead:
    """Edit traits (If-Match required); a strict-trait change of RECUP/VALI/QUAL needs a reason and
    leaves the identity PROV unless a high-trust document is checked with it (ins-rniv §3)."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason", "document"})
    document = identities.DocumentInput(**body.document.model_dump()) if body.document else None
    identity = identities.update_identity(
        ctx, actor, identity_id, changes, expected_version=version, reason=body.reason, document=document
    )
    return _read(identity, actor, response)


@router.post("/{identity_id}/documents", status_code=201, response_model=DocumentRecorded)
def record_document(
    identity_id: int, body: DocumentCreate, ctx: CtxDep, actor: ActorDep, version: VersionDep,
    response: Response,
) -> DocumentRecorded:
    """Record a checked identity document (If-Match required; type required, no default; the expiry
    date, or ``no_expiry_printed``, for a type that prints one)."""
    document = identities.DocumentInput(**body.model_dump())
    identity, row = identities.record_document(ctx, actor, identity_id, document, expected_version=version)
    return DocumentRecorded(document=_document(row), identity=_read(identity, actor, response))


@router.get("/{identity_id}/documents", response_model=list[DocumentRead])
def list_documents(identity_id: int, ctx: CtxDep, actor: ActorDep) -> list[DocumentRead]:
    """Document checks of an identity, newest first."""
    return [_document(r) for r in queries.identity_documents(ctx, actor, identity_id)]


@router.post("/{identity_id}/documents/{document_id}/withdraw", response_model=IdentityRead)
def withdraw_document(
    identity_id: int, document_id: int, body: Reason, ctx: CtxDep, actor: ActorDep, response: Response
) -> IdentityRead:
    """Withdraw a document check (found false or wrongly recorded)."""
    identity = identities.withdraw_document(ctx, actor, identity_id, document_id, reason=body.reason)
    return _read(identity, actor, response)


@router.post("/{identity_id}/attributes", response_model=IdentityRead)
def set_attribute(
    identity_id: int, body: AttributeSet, ctx: CtxDep, actor: ActorDep, version: VersionDep,
    response: Response,
) -> IdentityRead:
    """Set DOUT, FICT or HOMA (identitovigilance)."""
    identity = identities.set_attribute(
        ctx, actor, identity_id, body.code, reason=body.reason, expected_version=version
    )
    return _read(identity, actor, response)


@router.delete("/{identity_id}/attributes/{code}", response_model=IdentityRead)
def remove_attribute(
    identity_id: int, code: str, ctx: CtxDep, actor: ActorDep, version: VersionDep, response: Response,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
    body: Reason | None = None,
) -> IdentityRead:
    """Remove an attribute (identitovigilance); the reason goes in the body or the query."""
    text = body.reason if body is not None else reason
    if not text:
        raise MissingReason(field="reason", why="attribute")
    identity = identities.remove_attribute(
        ctx, actor, identity_id, code, reason=text, expected_version=version
    )
    return _read(identity, actor, response)


@router.get("/{identity_id}/history", response_model=list[AuditRead])
def history(
    identity_id: int, ctx: CtxDep, actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AuditRead]:
    """The audit trail, newest first."""
    events = queries.identity_history(ctx, actor, identity_id, limit=limit, offset=offset)
    return [
        AuditRead(id=e.id, at=e.at, actor=e.actor, roles=list(e.roles), action=e.action, before=e.before,
                  after=e.after, reason=e.reason)
        for e in events
    ]
