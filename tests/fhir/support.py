"""FHIR test population: identities of every status (INS held by QUAL and by non-QUAL ones), a
document check, attributes, a merge; seeded through the repositories and the merge service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session

from app.db.documents import DocumentRepository
from app.db.identities import IdentityRepository, NewIdentity
from app.domain.ins import OID_NIA, OID_NIR, OID_NIR_TEST, Ins, InsRecord, nir_key
from app.domain.status import Attribute, IdentityState
from app.domain.traits import build_traits
from app.services import links, merges, queries
from app.services.context import Actor, ServiceContext

TODAY = date(2026, 11, 30)
CELL = Actor("cell-1", frozenset({"identitovigilance"}))
INSI_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CHECKED_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def matricule(body13: str) -> str:
    """A matricule INS with its right key."""
    return f"{body13}{nir_key(body13):02d}"


NIR_QUAL = matricule("2800175112345")
NIR_QUAL_OLD = matricule("2800175112399")
NIR_RECUP = matricule("1750299123456")
NIA_QUAL = matricule("1900699111222")
NIR_TEST = matricule("2010175999001")
NIR_SHARED_HISTORY = matricule("1660133063111")

PEOPLE: dict[str, dict[str, str]] = {
    "qual": {
        "birth_name": "DUPONT",
        "first_names": "MARIE ANNE CLAIRE",
        "birth_date": "1980-01-15",
        "sex": "F",
        "birth_place_code": "75112",
        "used_name": "MARTIN",
    },
    "recup": {
        "birth_name": "DURAND",
        "first_names": "PIERRE",
        "birth_date": "1975-02-20",
        "sex": "M",
        "birth_place_code": "99123",
    },
    "prov": {
        "birth_name": "DUPONTEL",
        "first_names": "JEAN-LUC",
        "birth_date": "1962-07-04",
        "sex": "M",
        "birth_place_code": "13055",
    },
    "vali": {
        "birth_name": "LEFEBVRE",
        "first_names": "SOPHIE",
        "birth_date": "1990-06-30",
        "sex": "F",
        "birth_place_code": "59350",
    },
    "nia": {
        "birth_name": "NGUYEN",
        "first_names": "AN",
        "birth_date": "1990-06-01",
        "sex": "U",
        "birth_place_code": "13055",
    },
    "test": {
        "birth_name": "TESTPATIENT",
        "first_names": "ZOE",
        "birth_date": "2001-01-01",
        "sex": "F",
        "birth_place_code": "75112",
    },
    "dout": {"birth_name": "DUPRE", "first_names": "LUC", "birth_date": "1955-05-05", "sex": "M"},
    "twin_a": {
        "birth_name": "MOREAUX",
        "first_names": "CLAIRE",
        "birth_date": "1991-02-17",
        "sex": "F",
        "birth_place_code": "44109",
    },
    "twin_b": {
        "birth_name": "MOREAUX",
        "first_names": "CLAIRE",
        "birth_date": "1991-02-17",
        "sex": "F",
        "birth_place_code": "44109",
    },
    # One person kept in two records linked together (PAM A24): her certain matches are one person.
    "linked_a": {
        "birth_name": "BERTIN",
        "first_names": "LOUISE",
        "birth_date": "1948-08-08",
        "sex": "F",
        "birth_place_code": "69123",
    },
    "linked_b": {
        "birth_name": "BERTIN",
        "first_names": "LOUISE",
        "birth_date": "1948-08-08",
        "sex": "F",
        "birth_place_code": "69123",
    },
    "survivor": {
        "birth_name": "ROUSSEAU",
        "first_names": "JEAN PIERRE",
        "birth_date": "1980-03-04",
        "sex": "M",
        "birth_place_code": "75112",
    },
    "absorbed": {
        "birth_name": "ROUSSO",
        "first_names": "JEAN-PIERRE",
        "birth_date": "1980-03-04",
        "sex": "M",
        "birth_place_code": "75112",
    },
}
QUAL = IdentityState(insi=True, document=True)


def _ins(matricule_: str, oid: str, *, active: bool = True) -> InsRecord:
    return InsRecord(Ins.of(matricule_, oid), active, "INSI")


def _new(name: str) -> NewIdentity:
    traits = build_traits(today=TODAY, **PEOPLE[name])
    qual_like = {"state": QUAL, "insi_at": INSI_AT, "source": "INSI"}
    extra: dict[str, object] = {
        "qual": {
            **qual_like,
            "ins_records": (_ins(NIR_QUAL, OID_NIR), _ins(NIR_QUAL_OLD, OID_NIR, active=False)),
        },
        "recup": {
            "state": IdentityState(insi=True),
            "insi_at": INSI_AT,
            "source": "INSI",
            "ins_records": (_ins(NIR_RECUP, OID_NIR),),
        },
        "vali": {"state": IdentityState(document=True)},
        "nia": {**qual_like, "ins_records": (_ins(NIA_QUAL, OID_NIA),)},
        "test": {**qual_like, "ins_records": (_ins(NIR_TEST, OID_NIR_TEST),)},
        "dout": {"state": IdentityState(attributes=frozenset({Attribute.DOUT, Attribute.HOMA}))},
    }.get(name, {})
    return NewIdentity(traits, extra.pop("state", IdentityState()), ipp=f"IPP{name.upper()}", **extra)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Population:
    """Ids and IPPs of the seeded identities, by name."""

    ids: dict[str, int]
    ipps: dict[str, str]


def seed(ctx: ServiceContext) -> Population:
    """Seed PEOPLE, record a CN for qual and a PA for vali, merge absorbed into survivor."""
    names = list(PEOPLE)
    with Session(ctx.engine) as session:
        ids = dict(
            zip(
                names,
                IdentityRepository(session).add_many([_new(n) for n in names], datetime.now(UTC)),
                strict=True,
            )
        )
        documents = DocumentRepository(session)
        for name, kind in (("qual", "CN"), ("vali", "PA"), ("nia", "CS")):
            documents.add(
                ids[name],
                kind,
                high_trust=True,
                checked_by="agent",
                checked_at=CHECKED_AT,
                expires_on=date(2030, 1, 1),
                no_expiry_printed=False,
            )
        session.commit()
    reader = Actor("reader", frozenset({"admission"}))
    survivor = queries.get_identity(ctx, reader, ids["survivor"])
    absorbed = queries.get_identity(ctx, reader, ids["absorbed"])
    merges.merge_identities(
        ctx,
        CELL,
        survivor.id,
        absorbed.id,
        reason="same person",
        survivor_version=survivor.version,
        absorbed_version=absorbed.version,
    )
    links.link_identities(ctx, CELL, ids["linked_a"], ids["linked_b"], reason="same person, two records")
    ipps = {name: queries.get_identity(ctx, reader, i).ipp for name, i in ids.items()}
    return Population(ids, ipps)
