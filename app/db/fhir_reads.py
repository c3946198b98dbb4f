"""Reads of the FHIR view that the other repositories do not offer: result counts, the identity
document behind each validation, the identifiers of the identities merged into a survivor, the
identities linked with others."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, DateTime, String, any_, bindparam, cast, literal, null, select, union_all
from sqlmodel import Session

from app.db.documents import DOCUMENT
from app.db.engine import Precompiled, driver_pipeline
from app.db.identity_queries import (
    SearchFilters,
    count_statement,
    prefix_count_params,
    prefix_count_statement,
)
from app.db.identity_rows import IDENTITY
from app.db.links import LINK
from app.db.merges import MERGE


@dataclass(frozen=True)
class Validation:
    """The latest standing high-trust document check of an identity: its type and when."""

    type: str
    checked_at: datetime


@dataclass(frozen=True)
class AbsorbedIpp:
    """The IPP of an identity merged into a survivor (kept on the survivor as an old identifier)."""

    identity_id: int
    survivor_id: int
    ipp: str
    authority: str


@dataclass(frozen=True)
class Extras:
    """Validations by identity, IPPs merged into survivors, linked identities by identity."""

    validations: dict[int, Validation]
    absorbed: list[AbsorbedIpp]
    linked: dict[int, set[int]]


class FhirReads:
    """Read-only statements of the FHIR layer (``FhirReads(reader.session)``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def count(self, filters: SearchFilters) -> int:
        """How many identities the identity search finds for these filters (same rules as its pages)."""
        return int(self._session.connection().execute(count_statement(filters)).scalar_one())

    def extras_and_count(self, identity_ids: Sequence[int], documented: Sequence[int],
                         count_of: SearchFilters | None) -> tuple[Extras, int | None]:
        """What the Patients of these identities need besides them, in one statement (UNION ALL): the
        latest standing high-trust document check of the ``documented`` ones, the IPPs of the
        identities merged into each (not unmerged), the identities each is linked with (standing);
        and ``count`` of ``count_of`` (None: not counted). On PostgreSQL the count of a search by a
        name prefix alone (FHIR's ``family=``) is a statement built once, sent with the extras in one
        round trip (pipelined): a page, its extras and its total take two round trips."""
        connection = self._session.connection()
        postgresql = connection.dialect.name == "postgresql"
        params = {"ids": list(identity_ids), "documented": list(documented)}
        prefix = prefix_count_params(count_of) if count_of is not None and postgresql else None
        if prefix is None:
            rows = _EXTRAS[postgresql].execute(connection, params) if identity_ids else ()
            return _extras(rows), self.count(count_of) if count_of is not None else None
        long, values = prefix
        with driver_pipeline(connection):
            rows = _EXTRAS[True].execute(connection, params) if identity_ids else ()
            counted = _PREFIX_COUNT[long].execute(connection, values)
        return _extras(rows), int(counted.fetchone()[0])


def _extras_statement(postgresql: bool) -> Any:
    """The extras of a page, built once: on PostgreSQL each id list is one array parameter (one SQL
    text for any page size, run straight on the driver), elsewhere an expanding IN list."""

    def among(column: Any, name: str) -> Any:
        if postgresql:
            return column == any_(bindparam(name, type_=ARRAY(column.type)))
        return column.in_(bindparam(name, expanding=True))

    text, when = cast(null(), String), cast(null(), DateTime(timezone=True))
    documents = select(literal("v"), DOCUMENT.c.identity_id, DOCUMENT.c.type, text, DOCUMENT.c.checked_at,
                       DOCUMENT.c.id).where(among(DOCUMENT.c.identity_id, "documented"),
                                            DOCUMENT.c.withdrawn_at.is_(None), DOCUMENT.c.high_trust)
    merged = select(literal("m"), MERGE.c.survivor_id, IDENTITY.c.ipp, IDENTITY.c.ipp_authority, when,
                    MERGE.c.absorbed_id).join(IDENTITY, IDENTITY.c.id == MERGE.c.absorbed_id).where(
        among(MERGE.c.survivor_id, "ids"), MERGE.c.unmerged_at.is_(None))
    standing = LINK.c.unlinked_at.is_(None)
    low = select(literal("l"), LINK.c.low_id, text, text, when, LINK.c.high_id).where(
        among(LINK.c.low_id, "ids"), standing)
    high = select(literal("l"), LINK.c.high_id, text, text, when, LINK.c.low_id).where(
        among(LINK.c.high_id, "ids"), standing)
    return union_all(documents, merged, low, high)


# Prepared after five runs (psycopg's default), as the SQLAlchemy statement of an IN list of one
# length was: planning it on every call cost more PostgreSQL time than running it. These tables grow
# slowly (a document check, a merge, a link at a time): their statistics, hence the cached plan, are
# renewed by autovacuum long before a plan made on fewer rows could cost much.
_EXTRAS = {postgresql: Precompiled(_extras_statement(postgresql)) for postgresql in (False, True)}
# Prepared too: its plan (the key-head index ranges, index only) does not depend on the prefix.
_PREFIX_COUNT = {long: Precompiled(prefix_count_statement(long)) for long in (False, True)}


def _extras(rows: Iterable[Any]) -> Extras:
    found = Extras({}, [], {})
    documents: list[tuple[int, int, Validation]] = []
    for kind, identity_id, first, second, at, other in rows:
        if kind == "v":
            documents.append((other, identity_id, Validation(first, at)))
        elif kind == "m":
            found.absorbed.append(AbsorbedIpp(other, identity_id, first, second or ""))
        else:
            found.linked.setdefault(identity_id, set()).add(other)
    for _, identity_id, validation in sorted(documents, key=lambda d: d[0]):  # the latest check wins
        found.validations[identity_id] = validation
    found.absorbed.sort(key=lambda a: a.identity_id)
    return found
