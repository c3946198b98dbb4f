"""Identity rows <-> domain values: the one mapping, shared by the identity repositories.

Identities are read with their INS records in one joined SELECT of plain rows (one row per INS):
the hot paths (HL7 inbound, desk, campaigns) load identities on every change, and an ORM entity
query plus a second query for the INS cost twice the round trips and the client CPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from app.db.tables import IdentityRow, InsRow
from app.domain.identifiers import OWN, Authority
from app.domain.identity import Identity
from app.domain.ins import Ins, InsRecord
from app.domain.status import Attribute, IdentityState, Status
from app.domain.traits import Sex, Traits, first_names_search_key, name_search_key

IDENTITY = IdentityRow.__table__  # type: ignore[attr-defined]
INS = InsRow.__table__  # type: ignore[attr-defined]
INS_COLUMNS = (
    INS.c.id.label("ins_id"),
    INS.c.matricule.label("ins_matricule"),
    INS.c.oid.label("ins_oid"),
    INS.c.active.label("ins_active"),
    INS.c.source.label("ins_source"),
    INS.c.valid_from.label("ins_valid_from"),
    INS.c.valid_to.label("ins_valid_to"),
)


def joined(where: Any, *, for_update: bool) -> Select[Any]:
    """Identities and their INS records in one round trip: one row per INS, in identity id order."""
    stmt = (
        select(IDENTITY, *INS_COLUMNS)
        .outerjoin(INS, INS.c.identity_id == IDENTITY.c.id)
        .where(where)
        .order_by(IDENTITY.c.id, INS.c.active.desc(), INS.c.id.desc())
    )
    return stmt.with_for_update(of=IDENTITY) if for_update else stmt


def identities_of(rows: Iterable[Any]) -> list[Identity]:
    """Identities from joined identity + INS rows (one row per INS), in the rows' order."""
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.id, []).append(row)
    return [identity_of(group[0], ins_records_of(group)) for group in grouped.values()]


def identity_of(row: Any, records: tuple[InsRecord, ...]) -> Identity:
    """An identity from its row (ORM object or Core row: same attribute names) and INS records."""
    attributes = frozenset(Attribute(a) for a in row.attributes.split(",") if a)
    traits = Traits(
        birth_name=row.birth_name,
        first_names=row.first_names,
        first_name=row.first_name,
        sex=Sex(row.sex),
        birth_date=row.birth_date,
        birth_date_completed=row.birth_date_completed,
        birth_place_code=row.birth_place_code,
        used_name=row.used_name,
        used_first_name=row.used_first_name,
    )
    return Identity(
        id=row.id or 0,
        ipp=row.ipp or "",
        traits=traits,
        state=IdentityState.of(Status(row.status), attributes),
        version=row.version,
        ins_records=records,
        insi_at=row.insi_at,
        source=row.source,
        active=row.active,
        ipp_authority=Authority.parse(row.ipp_authority) if row.ipp_authority else OWN,
        merged_into=row.merged_into_id,
    )


def ins_records_of(rows: Sequence[Any]) -> tuple[InsRecord, ...]:
    """The INS columns of joined rows as records: active first, then newest first."""
    present = sorted((r for r in rows if r.ins_id is not None), key=lambda r: (not r.ins_active, -r.ins_id))
    return tuple(
        InsRecord(
            Ins(r.ins_matricule, r.ins_oid), r.ins_active, r.ins_source, r.ins_valid_from, r.ins_valid_to
        )
        for r in present
    )


def attributes_text(attributes: frozenset[Attribute]) -> str:
    """Attributes as stored: sorted codes, comma-separated."""
    return ",".join(sorted(a.value for a in attributes))


def trait_values(traits: Traits) -> dict[str, Any]:
    """The trait columns, with the name search keys written with them on every insert and update."""
    return {
        "birth_name": traits.birth_name,
        "first_names": traits.first_names,
        "first_name": traits.first_name,
        "sex": traits.sex.value,
        "birth_date": traits.birth_date,
        "birth_date_completed": traits.birth_date_completed,
        "birth_place_code": traits.birth_place_code,
        "used_name": traits.used_name,
        "used_first_name": traits.used_first_name,
        "birth_name_key": name_search_key(traits.birth_name),
        "used_name_key": name_search_key(traits.used_name) if traits.used_name else None,
        "first_names_key": first_names_search_key(traits.first_names, traits.used_first_name),
    }


def ins_values(identity_id: int, record: InsRecord, now: datetime) -> dict[str, Any]:
    """The columns of an INS record."""
    return {
        "identity_id": identity_id,
        "matricule": record.ins.matricule,
        "oid": record.ins.oid,
        "active": record.active,
        "source": record.source,
        "valid_from": record.valid_from,
        "valid_to": record.valid_to,
        "created_at": now,
        "deactivated_at": None if record.active else now,
    }
