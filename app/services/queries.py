"""Read-only queries for the API: one short transaction each, nothing written."""

from __future__ import annotations

import unicodedata

from app.db.audit import AuditEvent
from app.db.identity_queries import SearchFilters
from app.db.name_heads import FOLD_BATCH
from app.domain.dates import birth_date_search
from app.domain.documents import DocumentCheck
from app.domain.errors import InvalidTrait
from app.domain.identity import Identity
from app.domain.ins import check_matricule
from app.domain.messages import register
from app.domain.roles import Role, require_any
from app.domain.status import Status
from app.domain.traits import name_search_key, normalise_birth_place, normalise_sex
from app.services.context import Actor, ServiceContext
from app.services.errors import NotFound

READERS = (Role.ADMISSION, Role.IDENTITOVIGILANCE, Role.INTEGRATION, Role.DOCUMENTS, Role.ADMIN)
SEARCHERS = (Role.ADMISSION, Role.IDENTITOVIGILANCE, Role.INTEGRATION, Role.DOCUMENTS)
NAME_COUNT_FOLDER = Actor("job:name-count-folder", frozenset({"admin"}), kind="job")
register("status-unknown", "Unknown status {value}: use one of {valid}.",
         "Statut inconnu {value} : utilisez l'un des codes {valid}.")


def get_identity(ctx: ServiceContext, actor: Actor, identity_id: int) -> Identity:
    """One identity by id."""
    require_any(actor.roles, *READERS)
    with ctx.reading() as reader:
        identity = reader.identities.get(identity_id)
    if identity is None:
        raise NotFound(what="Identity", ident=identity_id)
    return identity


def search_identities(
    ctx: ServiceContext,
    actor: Actor,
    *,
    birth_name: str | None = None,
    exact: bool = False,
    first_name: str | None = None,
    birth_date: str | None = None,
    sex: str | None = None,
    birth_place_code: str | None = None,
    ipp: str | None = None,
    ins: str | None = None,
    status: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[Identity]:
    """Search active identities (merged ones too by IPP or INS: they point at their survivor); names
    and codes as creation takes them, names prefixes unless exact.

    Names ignore accents, case, apostrophes, hyphens and spaces; a birth date may be partial
    (YYYY or YYYY-MM); sex, status and birth place codes are case-insensitive.
    """
    require_any(actor.roles, *SEARCHERS)
    filters = search_filters(birth_name=birth_name, exact=exact, first_name=first_name, birth_date=birth_date,
                             sex=sex, birth_place_code=birth_place_code, ipp=ipp, ins=ins, status=status)
    with ctx.reading() as reader:
        return reader.identity_search.search(filters, limit=limit, offset=offset)


def search_filters(
    *,
    birth_name: str | None = None,
    exact: bool = False,
    first_name: str | None = None,
    birth_date: str | None = None,
    sex: str | None = None,
    birth_place_code: str | None = None,
    ipp: str | None = None,
    ins: str | None = None,
    status: str | None = None,
) -> SearchFilters:
    """The search criteria as the identity search takes them (also the FHIR search's), checked and
    normalised; refused with the trait named when a value cannot be a criterion."""
    for name, value in (("birth_name", birth_name), ("first_name", first_name), ("ipp", ipp)):
        control = next((c for c in value or "" if unicodedata.category(c) == "Cc"), None)
        if control is not None:
            raise InvalidTrait("trait-forbidden-char", field=name, char=f"\\x{ord(control):02x}")
    return SearchFilters(
        birth_name=name_search_key(birth_name or "") or None,
        exact_name=exact,
        first_name=name_search_key(first_name or "") or None,
        birth_dates=birth_date_search(birth_date) if birth_date else (),
        sex=normalise_sex(sex).value if sex else None,
        birth_place_code=normalise_birth_place(birth_place_code) if birth_place_code else None,
        ipp=ipp.strip() if ipp else None,
        ins=check_matricule(ins) if ins else None,
        status=_status(status) if status else None,
    )


def _status(value: str) -> str:
    """A status code, whatever its case (qual, Qual, QUAL)."""
    try:
        return Status(value.strip().upper()).value
    except ValueError:
        valid = ", ".join(s.value for s in Status)
        raise InvalidTrait("status-unknown", field="status", value=value[:10], valid=valid) from None


def identity_history(
    ctx: ServiceContext, actor: Actor, identity_id: int, *, limit: int = 100, offset: int = 0
) -> list[AuditEvent]:
    """The audit trail of an identity, newest first."""
    require_any(actor.roles, Role.ADMISSION, Role.IDENTITOVIGILANCE, Role.ADMIN)
    with ctx.reading() as reader:
        if reader.identities.get(identity_id) is None:
            raise NotFound(what="Identity", ident=identity_id)
        return reader.audit_log.trail(identity_id, limit=limit, offset=offset)


def identity_documents(ctx: ServiceContext, actor: Actor, identity_id: int) -> list[DocumentCheck]:
    """Document checks recorded for an identity, newest first."""
    require_any(actor.roles, Role.ADMISSION, Role.IDENTITOVIGILANCE, Role.ADMIN)
    with ctx.reading() as reader:
        if reader.identities.get(identity_id) is None:
            raise NotFound(what="Identity", ident=identity_id)
        return reader.documents.of_identity(identity_id)


def identity_counts(ctx: ServiceContext) -> dict[str, int]:
    """Identities per RNIV status (for /metrics)."""
    with ctx.reading() as reader:
        return reader.identity_search.count_by_status()


def name_count_backlog(ctx: ServiceContext) -> int:
    """Name-head count deltas waiting to be folded by the worker (for /metrics; capped at 1,000,000)."""
    with ctx.reading() as reader:
        return reader.name_heads.pending()


def fold_name_counts(ctx: ServiceContext, *, batch: int = FOLD_BATCH) -> int:
    """Fold up to ``batch`` name-head count deltas into the counts (one transaction); how many.

    The counts stay exact without it: folding keeps the count of a name prefix a short sum."""
    with ctx.unit_of_work(NAME_COUNT_FOLDER) as uow:
        moved = uow.name_heads.fold(batch)
        uow.commit()
    return moved
