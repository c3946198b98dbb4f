"""Reads of the FHIR view that the other repositories do not offer: result counts, the identity
document behind each validation, the identifiers of the identities merged into a survivor, the
identities linked with others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlmodel import Session

from app.db.documents import DOCUMENT
from app.db.identity_queries import SearchFilters, _conditions
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


class FhirReads:
    """Read-only statements of the FHIR layer (``FhirReads(reader.session)``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def count(self, filters: SearchFilters) -> int:
        """How many identities the identity search finds for these filters (same rules as its pages)."""
        statement = select(func.count()).select_from(IDENTITY)
        if not (filters.ipp or filters.ins):
            statement = statement.where(IDENTITY.c.active)
        for condition in _conditions(filters):
            statement = statement.where(condition)
        return int(self._session.connection().execute(statement).scalar_one())

    def validations(self, identity_ids: Sequence[int]) -> dict[int, Validation]:
        """The latest standing high-trust document check of each identity, one statement."""
        if not identity_ids:
            return {}
        rows = self._session.connection().execute(
            select(DOCUMENT.c.identity_id, DOCUMENT.c.type, DOCUMENT.c.checked_at)
            .where(DOCUMENT.c.identity_id.in_(identity_ids), DOCUMENT.c.withdrawn_at.is_(None),
                   DOCUMENT.c.high_trust)
            .order_by(DOCUMENT.c.id)
        )
        return {row.identity_id: Validation(row.type, row.checked_at) for row in rows}

    def linked(self, identity_ids: Sequence[int]) -> dict[int, set[int]]:
        """The identities each of these is linked with (standing links, PAM A24), one statement."""
        if not identity_ids:
            return {}
        rows = self._session.connection().execute(
            select(LINK.c.low_id, LINK.c.high_id)
            .where(or_(LINK.c.low_id.in_(identity_ids), LINK.c.high_id.in_(identity_ids)),
                   LINK.c.unlinked_at.is_(None))
        )
        found: dict[int, set[int]] = {}
        for low, high in rows:
            found.setdefault(low, set()).add(high)
            found.setdefault(high, set()).add(low)
        return found

    def absorbed_ipps(self, survivor_ids: Sequence[int]) -> list[AbsorbedIpp]:
        """The IPPs of the identities merged (and not unmerged) into these survivors, one statement."""
        if not survivor_ids:
            return []
        rows = self._session.connection().execute(
            select(MERGE.c.absorbed_id, MERGE.c.survivor_id, IDENTITY.c.ipp, IDENTITY.c.ipp_authority)
            .join(IDENTITY, IDENTITY.c.id == MERGE.c.absorbed_id)
            .where(MERGE.c.survivor_id.in_(survivor_ids), MERGE.c.unmerged_at.is_(None))
            .order_by(MERGE.c.id)
        )
        return [AbsorbedIpp(row.absorbed_id, row.survivor_id, row.ipp, row.ipp_authority or "")
                for row in rows]
