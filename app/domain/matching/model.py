"""The Fellegi-Sunter model: m and u probabilities per trait and level, the prior, the thresholds.

For each trait and level, m = P(level | same person) and u = P(level | two different persons);
the weight of the level is log2(m / u), in bits: positive when the level is more frequent between
records of one person, negative otherwise; a missing trait weighs 0 (Fellegi and Sunter, "A Theory
for Record Linkage", JASA 64(328), 1969; weights in bits as Splink shows them).

Where the numbers come from. No published study gives m and u for French hospital identities at
this grain: the Fellegi-Sunter study at a French university hospital the project cites (21,876
identities, 3 % confirmed duplicates) reports recall and precision, not its parameters. So the
values below are set by the project and written down here so they can be questioned:

- u (different persons) follows from how values spread in a French population: a birth date is
  shared by about 1 pair in 25,000 (ages spread over ~100 years, crowded in some); an exact birth
  name by about 1 pair in 2,000 (many frequent names and regional clusters); a first-name list by
  about 1 in 330 (first names are frequent and follow fashions); half of all pairs share the sex;
  a hospital's patients are mostly born in its region, so 2 % of pairs share the commune and 15 %
  more the département. The u of a near-agreement (typo, sounds-alike) counts the neighbours a
  value has at that level.
- m (same person) follows from the error types of identity records: most duplicates carry the
  same traits (80 % the same birth name, 82 % the same first names, 93 % the same birth date), and
  the rest is shared between the error types the comparisons know (only the first of the first
  names typed 8 %, married name typed as birth name 5 %, a slip in the date 4 %, ...).
- The prior is the odds that two identities picked at random are one person: with about 3 %
  duplicated identities, 0.05 / N for a repository of N identities (-24.3 bits at one million).

They are a starting point for an EM estimation on data with known truth (``bench/``); a model
estimated there replaces them through ``MatchModel`` without touching the comparisons. Weights
must not increase from a level to a worse one (checked here): the score's monotonicity rests on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from app.domain.matching.compare import LEVELS, RANK, Level

E, C, A, T, P, PA, D = (Level.EXACT, Level.CLOSE, Level.ALIAS, Level.TYPO, Level.PHONETIC,
                        Level.PARTIAL, Level.DIFFERENT)

INS = "ins"
BIRTH_NAME = "birth_name"
FIRST_NAMES = "first_names"
BIRTH_DATE = "birth_date"
SEX = "sex"
BIRTH_PLACE = "birth_place_code"

#: The compared traits, in the order of the score's sum and of every explanation.
TRAITS: tuple[str, ...] = (INS, BIRTH_NAME, FIRST_NAMES, BIRTH_DATE, SEX, BIRTH_PLACE)


@dataclass(frozen=True)
class TraitWeights:
    """m and u of one trait for each level it can take (``different`` gets u = the rest)."""

    trait: str
    m: Mapping[Level, float]
    u: Mapping[Level, float]
    by_rank: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for level in self.m:
            if not (0 < self.m[level] <= 1 and 0 < self.u.get(level, 0) <= 1):
                raise ValueError(f"{self.trait}: m and u of {level} must be in (0, 1]")
        weights = [self.weight(level) if level in self.m else 0.0 for level in LEVELS]
        present = [weights[RANK[level]] for level in LEVELS if level in self.m]
        if any(later > earlier for earlier, later in zip(present, present[1:], strict=False)):
            raise ValueError(f"{self.trait}: weights must not increase towards worse levels")
        object.__setattr__(self, "by_rank", tuple(weights))

    def weight(self, level: Level) -> float:
        """log2(m / u), in bits; 0 for a missing trait."""
        if level is Level.MISSING:
            return 0.0
        return math.log2(self.m[level] / self.u[level])


def _trait(trait: str, m: dict[Level, float], u: dict[Level, float]) -> TraitWeights:
    """Weights of a trait, u of ``different`` being what the other levels leave."""
    u = {**u, D: 1.0 - sum(u.values())}
    return TraitWeights(trait, MappingProxyType(m), MappingProxyType(u))


#: The project's m/u table (see the module docstring and docs/duplicates.md).
DEFAULT_TRAITS: tuple[TraitWeights, ...] = (
    _trait(INS, {E: 0.99, D: 0.01}, {E: 1e-7}),
    _trait(
        BIRTH_NAME,
        {E: 0.80, C: 0.02, A: 0.05, T: 0.06, P: 0.03, PA: 0.02, D: 0.02},
        {E: 5e-4, C: 4e-5, A: 4e-4, T: 1e-3, P: 1.5e-3, PA: 1.5e-3},
    ),
    _trait(
        FIRST_NAMES,
        {E: 0.82, C: 0.08, A: 0.03, T: 0.03, P: 0.01, PA: 0.02, D: 0.01},
        {E: 3e-3, C: 4e-3, A: 2e-3, T: 3e-3, P: 3e-3, PA: 8e-3},
    ),
    _trait(BIRTH_DATE, {E: 0.93, T: 0.04, PA: 0.01, D: 0.02}, {E: 4e-5, T: 1.2e-3, PA: 4e-4}),
    _trait(SEX, {E: 0.98, D: 0.02}, {E: 0.5}),
    _trait(BIRTH_PLACE, {E: 0.90, C: 0.02, PA: 0.04, D: 0.04}, {E: 0.02, C: 0.005, PA: 0.15}),
)

DUPLICATE_PAIRS_PER_IDENTITY = 0.05  # about 3 % of identities duplicated, counted per pair


def prior_for(repository_size: int) -> float:
    """Prior log2 odds that two identities of a repository of that size are one person."""
    return math.log2(DUPLICATE_PAIRS_PER_IDENTITY / max(repository_size, 2))


@dataclass(frozen=True)
class MatchModel:
    """Weights of each trait (in ``TRAITS`` order), prior, and the grade thresholds on the score."""

    traits: tuple[TraitWeights, ...] = DEFAULT_TRAITS
    prior_log2_odds: float = prior_for(1_000_000)
    certain: float = 0.99
    probable: float = 0.90
    possible: float = 0.50
    table: tuple[tuple[float, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(t.trait for t in self.traits) != TRAITS:
            raise ValueError(f"traits must be {TRAITS}")
        if not 0 < self.possible < self.probable < self.certain < 1:
            raise ValueError("thresholds must satisfy 0 < possible < probable < certain < 1")
        object.__setattr__(self, "table", tuple(t.by_rank for t in self.traits))

    def weight(self, trait: str, level: Level) -> float:
        """The weight of a level of a trait, in bits."""
        return self.traits[TRAITS.index(trait)].by_rank[RANK[level]]


DEFAULT_MODEL = MatchModel()
