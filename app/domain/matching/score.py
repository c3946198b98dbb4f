"""The score of a pair of identities, its grade and its explanation (Fellegi-Sunter).

The weights of the six traits (``model.py``) are summed with the prior into log2 odds; the score
is the matching probability they give, 1 / (1 + 2^-total). Grades: ``certain`` from 0.99,
``probable`` from 0.90, ``possible`` from 0.50, below that no match (``MatchModel`` thresholds).

Rules of identitovigilance bound the grade whatever the sum (ins-rniv §6, RNIV EXI SI 09):

- the same INS on both, active or in history: ``certain`` (the INS names one person), unless the
  other traits disagree (their weights sum below zero): an INS names a person together with its
  traits, so one INS on two persons' traits is an INS error, a collision to examine (ins-rniv §6:
  "a duplicate (or a collision)"), at most ``possible`` with the rule ``same-ins-traits-disagree``
  (a parent's matricule typed for a child is the usual case);
- two different active INS: two persons for the national referential, never more than
  ``possible`` (a merge of them is refused too, ``app.domain.merges``);
- an identity with the attribute HOMA (confirmed homonym): never ``certain`` without the same INS;
- ``certain`` needs the first names to agree (equal, only the first of them typed, or a used first
  name): the first names are what tells twins and homonyms apart, and a first name one letter or
  one sound away (LEA / LEO) may be a twin's; a sex that differs also forbids ``certain``;
- first names that disagree (JEAN PAUL / JEAN PIERRE), or a differing sex with first names that
  do not agree, allow no more than ``possible``: that is how twins and homonyms look.

A bound squeezes the score below the grade's threshold (order kept between bounded pairs), so
that the grade always reads off the score; apart from the same INS, which sets the grade (certain,
or possible for a collision), a bound never raises a score; each bound is named
in ``MatchResult.rules``. The explanation gives, per trait, its name, level, case and weight: no
value of an identity, so it may be logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from app.domain.matching.compare import (
    MISSING,
    RANK,
    Comparison,
    Level,
    compare_birth_dates,
    compare_birth_names,
    compare_birth_places,
    compare_dates,
    compare_first_name_lists,
    compare_first_names,
    compare_ins,
    compare_places,
    compare_sexes,
)
from app.domain.matching.model import DEFAULT_MODEL, TRAITS, MatchModel
from app.domain.matching.record import MatchRecord


class Grade(StrEnum):
    """How sure the match is, from the score and the bounds."""

    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    NO_MATCH = "no_match"


class Rule(StrEnum):
    """The identitovigilance rules that decided or bounded a grade."""

    SAME_INS = "same-ins"  # certain
    SAME_INS_TRAITS_DISAGREE = "same-ins-traits-disagree"  # at most possible: look for a collision
    DIFFERENT_INS = "different-ins"  # at most possible
    HOMONYM = "homonym-attribute"  # not certain
    FIRST_NAMES_NOT_EQUAL = "first-names-not-equal"  # not certain
    SEX_DIFFERENT = "sex-different"  # not certain
    FIRST_NAMES_DIFFERENT = "first-names-different"  # at most possible
    SEX_AND_FIRST_NAMES = "sex-and-first-names-different"  # at most possible


@dataclass(frozen=True, slots=True)
class TraitResult:
    """One line of the explanation: the trait compared, the level, the case, the weight in bits."""

    trait: str
    level: Level
    code: str
    weight: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The score of a pair in [0, 1], its grade, the total weight (bits, prior included), the
    explanation per trait in ``TRAITS`` order, and the rules that bounded the grade."""

    score: float
    grade: Grade
    weight: float
    traits: tuple[TraitResult, ...]
    rules: tuple[Rule, ...]


_FIRST_NAMES_CERTAIN = frozenset({Level.EXACT, Level.CLOSE, Level.ALIAS})


def compare_records(a: MatchRecord, b: MatchRecord) -> tuple[Comparison, ...]:
    """The six comparisons of a pair, in ``TRAITS`` order."""
    return (
        compare_ins(a, b),
        compare_birth_names(a, b),
        compare_first_names(a, b),
        compare_birth_dates(a, b),
        compare_sexes(a, b),
        compare_birth_places(a, b),
    )


def _rules(comparisons: tuple[Comparison, ...], homonym: bool, traits_weight: float) -> tuple[Rule, ...]:
    """The rules that apply to a pair, strongest first (``traits_weight``: the traits but the INS)."""
    ins, _, first, _, sex, _ = comparisons
    if ins.level is Level.EXACT:
        return (Rule.SAME_INS,) if traits_weight >= 0 else (Rule.SAME_INS, Rule.SAME_INS_TRAITS_DISAGREE)
    found: list[Rule] = []
    first_agree = first.level in _FIRST_NAMES_CERTAIN
    if first.level is Level.DIFFERENT:
        found.append(Rule.FIRST_NAMES_DIFFERENT)
    if sex.level is Level.DIFFERENT and not first_agree:
        found.append(Rule.SEX_AND_FIRST_NAMES)
    if ins.level is Level.DIFFERENT:
        found.append(Rule.DIFFERENT_INS)
    if homonym:
        found.append(Rule.HOMONYM)
    if not first_agree and first.level is not Level.DIFFERENT:
        found.append(Rule.FIRST_NAMES_NOT_EQUAL)
    if sex.level is Level.DIFFERENT:
        found.append(Rule.SEX_DIFFERENT)
    return tuple(found)


_AT_MOST_POSSIBLE = frozenset({Rule.FIRST_NAMES_DIFFERENT, Rule.SEX_AND_FIRST_NAMES, Rule.DIFFERENT_INS,
                               Rule.SAME_INS_TRAITS_DISAGREE})


def _squeeze(p: float, low: float, high: float) -> float:
    """Map [low, 1] onto [low, low + 90 % of (high - low)], keeping the order; below low, unchanged.

    Never raises p; a bounded score stays visibly below the threshold it may not reach.
    """
    if p < low:
        return p
    return low + (p - low) / (1.0 - low) * (high - low) * 0.9


def _bounded(p: float, rules: tuple[Rule, ...], model: MatchModel) -> float:
    if not rules:
        return p
    if any(rule in _AT_MOST_POSSIBLE for rule in rules):
        return _squeeze(max(p, model.possible) if rules[0] is Rule.SAME_INS else p, model.possible,
                        model.probable)
    if rules[0] is Rule.SAME_INS:
        return max(p, model.certain)
    return _squeeze(p, model.probable, model.certain)


def grade_of(score: float, model: MatchModel = DEFAULT_MODEL) -> Grade:
    """The grade a score reads as."""
    if score >= model.certain:
        return Grade.CERTAIN
    if score >= model.probable:
        return Grade.PROBABLE
    if score >= model.possible:
        return Grade.POSSIBLE
    return Grade.NO_MATCH


def _probability(total: float) -> float:
    """1 / (1 + 2^-total): the probability that log2 odds give."""
    if total < -1000:  # 2^1000 is near the float limit; the probability is 0 long before
        return 0.0
    return 1.0 / (1.0 + math.exp2(-total))


def score_pair(a: MatchRecord, b: MatchRecord, model: MatchModel = DEFAULT_MODEL) -> MatchResult:
    """Score, grade and explanation of a pair (symmetric: the order of a and b does not matter)."""
    comparisons = compare_records(a, b)
    weights = [t.by_rank[c.rank] for t, c in zip(model.traits, comparisons, strict=True)]
    total = model.prior_log2_odds
    for w in weights:
        total += w
    rules = _rules(comparisons, a.homonym or b.homonym, sum(weights[1:]))
    score = _bounded(_probability(total), rules, model)
    return MatchResult(
        score=score,
        grade=grade_of(score, model),
        weight=total,
        traits=tuple(
            TraitResult(trait, c.level, c.code, w)
            for trait, c, w in zip(TRAITS, comparisons, weights, strict=True)
        ),
        rules=rules,
    )


def match_score(a: MatchRecord, b: MatchRecord, model: MatchModel = DEFAULT_MODEL) -> float:
    """The score alone, for scans: the same value as ``score_pair(a, b, model).score``, faster."""
    w_ins, w_name, w_first, w_date, w_sex, w_place = model.table
    ins = compare_ins(a, b)
    first = compare_first_name_lists(a.first_names, b.first_names)
    sex = compare_sexes(a, b)
    total = model.prior_log2_odds + w_ins[ins.rank]
    total += w_name[compare_birth_names(a, b).rank]
    total += w_first[first.rank]
    total += w_date[compare_dates(a.birth_date, a.birth_date_completed, b.birth_date,
                                  b.birth_date_completed).rank]
    total += w_sex[sex.rank]
    total += w_place[compare_places(a.birth_place, b.birth_place).rank]
    p = _probability(total)
    if ins.rank == _EXACT:  # the same INS: certain, unless the other traits disagree (a collision)
        if total - model.prior_log2_odds - w_ins[ins.rank] >= 0:
            return p if p > model.certain else model.certain
        return _bounded(p, (Rule.SAME_INS, Rule.SAME_INS_TRAITS_DISAGREE), model)
    if p < model.possible or (first.rank <= _ALIAS and sex.rank != _DIFFERENT and ins.rank != _DIFFERENT
            and not (a.homonym or b.homonym)):
        return p  # no bound applies (a bound leaves a score below ``possible`` as it is)
    comparisons = (ins, MISSING, first, MISSING, sex, MISSING)  # what the rules read
    return _bounded(p, _rules(comparisons, a.homonym or b.homonym, 0.0), model)


_EXACT, _ALIAS, _DIFFERENT = RANK[Level.EXACT], RANK[Level.ALIAS], RANK[Level.DIFFERENT]
