"""Helpers of the duplicate detection tests: a small population with known duplicates (the French
identity errors the matcher knows), seeded through the repository's bulk path."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from app.db.identities import IdentityRepository, NewIdentity
from app.domain.status import IdentityState
from app.domain.traits import build_traits
from app.services.context import ServiceContext

TODAY = date(2026, 12, 1)
SURNAMES = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU",
            "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL",
            "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT",
            "MULLER", "LEFEVRE", "FAURE", "ANDRE", "MERCIER", "BLANC", "GUERIN", "BOYER", "GARNIER",
            "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER", "GARCIA", "PERRIN", "ROBIN", "CLEMENT"]
FIRST = {"F": ["MARIE", "ANNE", "CLAIRE", "SOPHIE", "JULIE", "CAMILLE", "LEA", "CHLOE", "EMMA", "SARAH",
               "NATHALIE", "ISABELLE", "SYLVIE", "CATHERINE", "FRANCOISE", "MONIQUE", "NICOLE"],
         "M": ["JEAN", "PIERRE", "MICHEL", "PHILIPPE", "ALAIN", "NICOLAS", "THOMAS", "LUCAS", "HUGO",
               "LOUIS", "PAUL", "JACQUES", "BERNARD", "ERIC", "OLIVIER", "FRANCOIS", "DANIEL"]}

# (base, duplicate) raw traits: one French identity error each; the duplicate is at least probable.
DUPLICATES: list[tuple[dict[str, str], dict[str, str], str]] = [
    ({"birth_name": "ROUSSEAU", "first_names": "JEAN PIERRE", "birth_date": "1980-03-04", "sex": "M",
      "birth_place_code": "75112"},
     {"birth_name": "ROUSSO", "first_names": "JEAN-PIERRE", "birth_date": "1980-03-04", "sex": "M",
      "birth_place_code": "75112"}, "sounds alike, hyphen"),
    ({"birth_name": "LEFEBURE", "first_names": "MARTINE", "birth_date": "1975-06-11", "sex": "F",
      "birth_place_code": "59350"},
     {"birth_name": "LEFEBURE", "first_names": "MARTINE", "birth_date": "1975-11-06", "sex": "F",
      "birth_place_code": "59350"}, "day and month swapped"),
    ({"birth_name": "BERNADOT", "first_names": "HELENE", "birth_date": "1962-09-21", "sex": "F",
      "birth_place_code": "33063", "used_name": "GIRAUDEAU"},
     {"birth_name": "GIRAUDEAU", "first_names": "HELENE", "birth_date": "1962-09-21", "sex": "F",
      "birth_place_code": "33063"}, "married name typed as birth name"),
    ({"birth_name": "MOREAUX", "first_names": "CLAIRE MARIE ANNE", "birth_date": "1991-02-17", "sex": "F",
      "birth_place_code": "44109"},
     {"birth_name": "MOREAUX", "first_names": "CLAIRE", "birth_date": "1991-02-17", "sex": "F",
      "birth_place_code": "44109"}, "only the first first name"),
    ({"birth_name": "DE LA FONTAINE", "first_names": "GUILLAUME", "birth_date": "1958-12-02", "sex": "M",
      "birth_place_code": "69383"},
     {"birth_name": "LAFONTAINE", "first_names": "GUILLAUME", "birth_date": "1958-12-02", "sex": "M",
      "birth_place_code": "69383"}, "particle lost"),
    ({"birth_name": "GARNIERO", "first_names": "BAPTISTE", "birth_date": "2001-07-30", "sex": "M",
      "birth_place_code": "13055"},
     {"birth_name": "GRANIERO", "first_names": "BAPTISTE", "birth_date": "2001-07-30", "sex": "M",
      "birth_place_code": "13055"}, "two letters swapped"),
]
# Twins: same name, date and place, other first names (and sex): never more than possible.
TWINS = ({"birth_name": "ROUXEL", "first_names": "LEA", "birth_date": "2015-05-05", "sex": "F",
          "birth_place_code": "35238"},
         {"birth_name": "ROUXEL", "first_names": "LEO", "birth_date": "2015-05-05", "sex": "M",
          "birth_place_code": "35238"})


@dataclass(frozen=True)
class Seeded:
    """Ids of a seeded population: every identity, and the (base, duplicate) pairs injected."""

    ids: list[int]
    duplicates: list[tuple[int, int]]
    twins: tuple[int, int]


def _new(raw: dict[str, str]) -> NewIdentity:
    traits = build_traits(today=TODAY, **raw)
    return NewIdentity(traits, IdentityState())


def population(count: int, seed: int = 13) -> list[dict[str, str]]:
    """Distinct plausible identities (no two share name, first names and birth date)."""
    rng = random.Random(seed)
    seen: set[tuple[str, str, date]] = set()
    found: list[dict[str, str]] = []
    while len(found) < count:
        sex = rng.choice("FM")
        name, first = rng.choice(SURNAMES), rng.choice(FIRST[sex])
        born = date(1935, 1, 1) + timedelta(days=rng.randrange(80 * 365))
        if (name, first, born) in seen:
            continue
        seen.add((name, first, born))
        found.append({"birth_name": name, "first_names": first, "birth_date": born.isoformat(), "sex": sex,
                      "birth_place_code": f"{rng.randrange(1, 95):02d}{rng.randrange(1, 400):03d}"})
    return found


def seed(ctx: ServiceContext, count: int, *, match_keys: bool = True) -> Seeded:
    """``count`` random identities with the injected duplicates and twins spread among them."""
    raws = population(count)
    for n, (base, duplicate, _) in enumerate(DUPLICATES):
        at = (n + 1) * count // (len(DUPLICATES) + 2)
        raws.insert(at, base)
        raws.append(duplicate)
    raws.insert(count // 3, TWINS[0])
    raws.append(TWINS[1])
    with Session(ctx.engine) as session:
        ids = IdentityRepository(session).add_many([_new(r) for r in raws], datetime.now(UTC),
                                                   match_keys=match_keys)
        session.commit()
    by_traits = {tuple(sorted(r.items())): i for r, i in zip(raws, ids, strict=True)}
    duplicates = [(by_traits[tuple(sorted(b.items()))], by_traits[tuple(sorted(d.items()))])
                  for b, d, _ in DUPLICATES]
    twins = (by_traits[tuple(sorted(TWINS[0].items()))], by_traits[tuple(sorted(TWINS[1].items()))])
    return Seeded(ids, duplicates, twins)
