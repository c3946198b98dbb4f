"""Read use cases of the FHIR interface (PDQm ITI-78 and ITI-119, PIXm ITI-83): the identities of a
Patient read, search, match or cross-reference, with what their FR Core view needs besides the
identity (the document behind a validation, the IPPs of the identities merged into it).

Same roles as the REST reads: a read as ``GET /identities/{id}``, a search as ``GET /identities``,
a match as ``POST /identities/candidates``. Nothing is written; every call logs the ids it returned
(never a trait: access logs drop the query string, as the REST API's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.db.fhir_reads import AbsorbedIpp, FhirReads, Validation
from app.db.identity_queries import SearchFilters
from app.db.unit_of_work import Reader
from app.domain.errors import DomainError
from app.domain.identity import Identity
from app.domain.messages import register
from app.domain.roles import require_any
from app.services import duplicates, identities, queries
from app.services.context import Actor, ServiceContext
from app.services.matching import Candidate

log = logging.getLogger("identito.fhir")
MAX_MATCHES = 1000  # results a search that combines or filters values may gather before paging
register("fhir-too-many", "More than {max} patients match: add criteria.",
         "Plus de {max} patients correspondent : ajoutez des critères.")


class TooManyResults(DomainError):
    """A search whose results must be gathered in memory (OR, repeated or filtered values) found
    more than ``MAX_MATCHES``."""

    code = "fhir-too-many"

    def __init__(self) -> None:
        super().__init__(max=MAX_MATCHES)


@dataclass(frozen=True)
class PatientRecord:
    """An identity and what its Patient view needs besides it."""

    identity: Identity
    validation: Validation | None = None
    old_ipps: tuple[AbsorbedIpp, ...] = ()
    linked: tuple[int, ...] = ()  # identities of the same person kept apart (PAM A24 links)


@dataclass(frozen=True)
class PatientQuery:
    """A Patient search: OR of alternatives (each the criteria of ``queries.search_filters``), or the
    given ids; ``keep`` checks in memory what the alternatives cannot express (None: nothing)."""

    alternatives: tuple[Mapping[str, Any], ...] = ({},)
    ids: tuple[int, ...] | None = None
    keep: Callable[[Identity], bool] | None = None


@dataclass(frozen=True)
class PatientPage:
    """One page of a search: its records, the total (None when not counted), whether more follow, and
    the survivors of merged records in it."""

    records: list[PatientRecord]
    total: int | None
    included: list[PatientRecord]
    more: bool = False


def read_patient(ctx: ServiceContext, actor: Actor, identity_id: int) -> PatientRecord:
    """One identity as a Patient (any state: a merged one reads inactive)."""
    identity = queries.get_identity(ctx, actor, identity_id)
    with ctx.reading() as reader:
        (record,) = _records(reader, [identity])
    log.info("fhir read by %s: identity %s", actor.subject, identity_id)
    return record


def search_patients(ctx: ServiceContext, actor: Actor, query: PatientQuery, *, count: int,
                    offset: int, with_total: bool = True) -> PatientPage:
    """A page of the identities a query finds, ordered by name, with the total (PDQm ITI-78) unless
    ``with_total`` is false (FHIR ``_total=none``: no count of every match)."""
    require_any(actor.roles, *queries.SEARCHERS)
    filters = [queries.search_filters(**alternative) for alternative in query.alternatives]
    total: int | None
    with ctx.reading() as reader:
        if query.ids is None and len(filters) == 1 and query.keep is None:
            found = reader.identity_search.search(filters[0], limit=count + 1, offset=offset) if count else []
            more = len(found) > count
            last = count and not more and (found or not offset)  # the last page tells the total
            counting = not last and (with_total or not count)
            found = found[:count]
            records, total = _records_and_count(reader, found, filters[0] if counting else None)
            if last:
                total = offset + len(found)
        else:
            every = _gather(reader, query, filters)
            total, found = len(every), every[offset:offset + count]
            more = offset + count < total
            records = _records(reader, found)
        shown = {i.id for i in found}
        survivors = sorted({i.merged_into for i in found if i.merged_into and i.merged_into not in shown})
        included = _records(reader, reader.identities.get_many(survivors)) if survivors else []
    log.info("fhir search by %s: %s of %s, identities %s", actor.subject, len(found), total, sorted(shown))
    return PatientPage(records, total, included, more and count > 0)


def _gather(reader: Reader, query: PatientQuery, filters: Sequence[Any]) -> list[Identity]:
    """Every identity of an OR / filtered query (at most MAX_MATCHES), in the search's name order."""
    if query.ids is not None:
        candidates = list(reader.identities.get_many(sorted(set(query.ids))))
    else:
        by_id: dict[int, Identity] = {}
        for one in filters:
            found = reader.identity_search.search(one, limit=MAX_MATCHES + 1, offset=0)
            if len(found) > MAX_MATCHES:
                raise TooManyResults()
            by_id.update((i.id, i) for i in found)
        candidates = list(by_id.values())
    kept = [i for i in candidates if query.keep is None or query.keep(i)]
    if len(kept) > MAX_MATCHES:
        raise TooManyResults()
    return sorted(kept, key=_name_order)


def _name_order(identity: Identity) -> tuple[Any, ...]:
    """The identity search's order: birth name, first name, birth date, id."""
    t = identity.traits
    return (t.birth_name, t.first_name, t.birth_date, identity.id)


def match_patients(ctx: ServiceContext, actor: Actor, data: identities.TraitsInput, *,
                   limit: int | None = None) -> list[tuple[PatientRecord, Candidate]]:
    """The identities that may be the person of these traits, best first, with their score and grade
    (the scorer of ``POST /identities/candidates``; merged identities are never candidates)."""
    found = duplicates.find_candidates(ctx, actor, data, limit=limit)
    with ctx.reading() as reader:
        records = _records(reader, [c.identity for c in found])
    log.info("fhir match by %s: identities %s", actor.subject, [c.identity.id for c in found])
    return list(zip(records, found, strict=True))


def cross_reference(ctx: ServiceContext, actor: Actor, *, ipp: str | None = None, ins: str | None = None,
                    identity_id: int | None = None,
                    accept: Callable[[Identity], bool] = lambda _: True) -> list[PatientRecord]:
    """The Patients of the person an identifier names (PIXm ITI-83): the identity holding it, or the
    survivor it was merged into, first, then the merged identity itself; [] when none holds it.

    ``accept`` tells whether an identity found shows the identifier (an INS only for QUAL, an IPP of
    the domain asked for)."""
    require_any(actor.roles, *queries.SEARCHERS)
    with ctx.reading() as reader:
        if identity_id is not None:
            found = reader.identities.get_many([identity_id])
        else:
            filters = queries.search_filters(ipp=ipp, ins=ins)
            found = reader.identity_search.search(filters, limit=20, offset=0)
        holders = [i for i in found if accept(i)]
        people = _people(reader, holders)
        records = _records(reader, people)
    log.info("fhir cross-reference by %s: identities %s", actor.subject, [i.id for i in people])
    return records


def _people(reader: Reader, holders: Iterable[Identity]) -> list[Identity]:
    """The survivors of merged holders (followed to the open one), then the holders themselves."""
    ordered: dict[int, Identity] = {}
    for holder in holders:
        chain, current, seen = [holder], holder, {holder.id}
        while not current.active and current.merged_into and current.merged_into not in seen:
            nxt = reader.identities.get(current.merged_into)
            if nxt is None:
                break
            chain.append(nxt)
            seen.add(nxt.id)
            current = nxt
        for identity in reversed(chain):
            ordered.setdefault(identity.id, identity)
    return list(ordered.values())


def _records(reader: Reader, found: Sequence[Identity]) -> list[PatientRecord]:
    """The records of identities, with their validation documents, absorbed IPPs and links (one
    statement)."""
    return _records_and_count(reader, found, None)[0]


def _records_and_count(reader: Reader, found: Sequence[Identity],
                       count_of: SearchFilters | None) -> tuple[list[PatientRecord], int | None]:
    """``_records``, and how many identities the search of ``count_of`` finds (None: not counted),
    in one round trip when the storage can (``FhirReads.extras_and_count``)."""
    if not found and count_of is None:
        return [], None
    documented = [i.id for i in found if i.state.document]
    extras, counted = FhirReads(reader.session).extras_and_count([i.id for i in found], documented, count_of)
    absorbed: dict[int, list[AbsorbedIpp]] = {}
    for old in extras.absorbed:
        absorbed.setdefault(old.survivor_id, []).append(old)
    records = [PatientRecord(i, extras.validations.get(i.id), tuple(absorbed.get(i.id, ())),
                             tuple(sorted(extras.linked.get(i.id, ())))) for i in found]
    return records, counted
