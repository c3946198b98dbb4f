"""Trait comparisons that know the errors French identities carry.

Each comparison returns a ``Comparison``: a level of agreement and a short code saying which case
was recognised (for the explanation; never a value). The levels, best first:

=========  =================================================================================
exact      the same value (for names: up to spaces, hyphens and apostrophes)
close      the same value written another way: particles (DE LA FONTAINE / LAFONTAINE), only the
           first of the birth first names, Paris/Lyon/Marseille arrondissement vs commune
alias      a name of one is the *other* name of the other: the used (married) name typed as birth
           name, the used first name typed as first name
typo       a keyboard slip: one character wrong, missing, extra or two swapped; words in another
           order; day and month swapped, one digit of the date wrong
phonetic   sounds the same (Phonex), e.g. DUPONT / DUPOND, GAUTIER / GAUTHIER
partial    part of it agrees: one part of a compound name (MARTIN-DUPONT / MARTIN), one of the
           first names, a completed partial date compatible with the other, the same département
different  disagrees
missing    unknown on either side (sex U, no birth place, no INS): no evidence either way
=========  =================================================================================

A comparison returns the best level whose case applies, in this order; the score relies on it
(``model.py`` keeps the weights in the same order, so better agreement never scores lower). Every
comparison is symmetric.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.domain.matching.record import MatchRecord, PlaceKey
from app.domain.matching.text import FirstNamesKey, NameKey, within_one_edit

_TYPO_MIN_NAME = 4  # shorter names: one character apart is another name (LY / LI)
_TYPO_MIN_FIRST_NAMES = 5  # LEA / LEO, JEAN / JOAN are other first names


class Level(StrEnum):
    """Agreement of one trait between two identities, best first (``missing`` stands apart)."""

    EXACT = "exact"
    CLOSE = "close"
    ALIAS = "alias"
    TYPO = "typo"
    PHONETIC = "phonetic"
    PARTIAL = "partial"
    DIFFERENT = "different"
    MISSING = "missing"


#: Levels in order of agreement; ``MISSING`` last (it carries no evidence).
LEVELS: tuple[Level, ...] = tuple(Level)
RANK = {level: index for index, level in enumerate(LEVELS)}


@dataclass(frozen=True, slots=True)
class Comparison:
    """A level and the case recognised (``rank`` is the level's index in ``LEVELS``)."""

    level: Level
    code: str
    rank: int


def _c(level: Level, code: str) -> Comparison:
    return Comparison(level, code, RANK[level])


MISSING = _c(Level.MISSING, "missing")

NAME_EQUAL = _c(Level.EXACT, "equal")
NAME_SEPARATORS = _c(Level.EXACT, "separators")
NAME_PARTICLE = _c(Level.CLOSE, "particle")
NAME_USED = _c(Level.ALIAS, "birth-vs-used-name")
NAME_TYPO = _c(Level.TYPO, "one-character")
NAME_ORDER = _c(Level.TYPO, "word-order")
NAME_PHONETIC = _c(Level.PHONETIC, "sounds-alike")
NAME_COMPOUND = _c(Level.PARTIAL, "compound-part")
NAME_DIFFERENT = _c(Level.DIFFERENT, "different")


def compare_names(a: NameKey, b: NameKey) -> Comparison:
    """Two family names: separators, particles, one typo, word order, Phonex, one compound part."""
    if a is b or a.text == b.text:
        return NAME_EQUAL
    if a.compact == b.compact:
        return NAME_SEPARATORS
    if not a.variants.isdisjoint(b.variants):
        return NAME_PARTICLE
    la, lb = len(a.compact), len(b.compact)
    if -2 < la - lb < 2 and min(la, lb) >= _TYPO_MIN_NAME and within_one_edit(a.compact, b.compact):
        return NAME_TYPO
    if len(a.sorted_tokens) > 1 and a.sorted_tokens == b.sorted_tokens:
        return NAME_ORDER
    if not a.phonetic_variants.isdisjoint(b.phonetic_variants):
        return NAME_PHONETIC
    # One side's parts all among the other's (MARTIN-DUPONT / MARTIN), a repeated part too
    # (DUPONT-DUPONT / DUPONT: the same set of parts, another name than the equal ones above).
    if a.tokens and b.tokens and (a.tokens <= b.tokens or b.tokens <= a.tokens):
        return NAME_COMPOUND
    return NAME_DIFFERENT


def _same_name(a: NameKey, b: NameKey) -> bool:
    """Equal up to separators and leading particles (what counts for a name typed in the wrong field)."""
    return not a.variants.isdisjoint(b.variants)  # the compact form is one of the variants


_ALIAS_RANK = RANK[Level.ALIAS]


def compare_birth_names(a: MatchRecord, b: MatchRecord) -> Comparison:
    """Birth names, and a birth name against the other's used name (married name typed as birth name)."""
    found = compare_names(a.birth_name, b.birth_name)
    if found.rank > _ALIAS_RANK and (
        (b.used_name is not None and _same_name(a.birth_name, b.used_name))
        or (a.used_name is not None and _same_name(a.used_name, b.birth_name))
    ):
        return NAME_USED
    return found


FIRST_EQUAL = _c(Level.EXACT, "equal")
FIRST_SEPARATORS = _c(Level.EXACT, "separators")
FIRST_ONLY = _c(Level.CLOSE, "first-names-prefix")
FIRST_USED = _c(Level.ALIAS, "used-first-name")
FIRST_ORDER = _c(Level.TYPO, "order")
FIRST_TYPO = _c(Level.TYPO, "one-character")
FIRST_PHONETIC = _c(Level.PHONETIC, "sounds-alike")
FIRST_SUBSET = _c(Level.PARTIAL, "some-first-names")
FIRST_CONFLICT = _c(Level.DIFFERENT, "conflicting")
FIRST_DIFFERENT = _c(Level.DIFFERENT, "different")


def compare_first_name_lists(a: FirstNamesKey, b: FirstNamesKey) -> Comparison:
    """Lists of birth first names ("-" and "'" count as a space, RNIV EXI SI 29/30) and used ones.

    Only the first of the birth first names typed (JEAN / JEAN PIERRE MARIE) is ``close``; the
    same first names in another order, or one character apart, are a ``typo``; sharing first names
    while each has one the other lacks (JEAN PAUL / JEAN PIERRE: twins?) is ``different``.
    """
    if not a.words or not b.words:
        return MISSING
    if a is b or a.text == b.text:
        return FIRST_EQUAL
    if a.compact == b.compact:  # the same words, or the same letters split otherwise
        return FIRST_SEPARATORS
    wa, wb = a.words, b.words
    shared = not a.word_set.isdisjoint(b.word_set)  # most pairs share none: fewer cases to try
    if shared and (wa[: len(wb)] == wb or wb[: len(wa)] == wa):
        return FIRST_ONLY
    if (a.used is not None and (a.used in b.names or a.used == b.used)) or (
        b.used is not None and b.used in a.names
    ):
        return FIRST_USED
    if shared and a.sorted_words == b.sorted_words:
        return FIRST_ORDER
    la, lb = len(a.compact), len(b.compact)
    if -2 < la - lb < 2 and min(la, lb) >= _TYPO_MIN_FIRST_NAMES and within_one_edit(a.compact, b.compact):
        return FIRST_TYPO
    ca, cb = a.codes, b.codes
    if ca[0] == cb[0] and (ca[: len(cb)] == cb or cb[: len(ca)] == ca):
        return FIRST_PHONETIC
    if not shared:
        return FIRST_DIFFERENT
    if a.word_set < b.word_set or b.word_set < a.word_set:
        return FIRST_SUBSET
    return FIRST_CONFLICT


def compare_first_names(a: MatchRecord, b: MatchRecord) -> Comparison:
    """First names of two records."""
    return compare_first_name_lists(a.first_names, b.first_names)


DATE_EQUAL = _c(Level.EXACT, "equal")
DATE_SWAP = _c(Level.TYPO, "day-month-swap")
DATE_DIGIT_DAY = _c(Level.TYPO, "one-digit-day")
DATE_DIGIT_MONTH = _c(Level.TYPO, "one-digit-month")
DATE_DIGIT_YEAR = _c(Level.TYPO, "one-digit-year")
DATE_TRANSPOSED = _c(Level.TYPO, "transposed-digits")
DATE_COMPLETED = _c(Level.PARTIAL, "completed-date-compatible")
DATE_DIFFERENT = _c(Level.DIFFERENT, "different")
DATE_COMPLETED_DIFFERENT = _c(Level.DIFFERENT, "completed-date-incompatible")


def _slip(x: int, y: int, width: int, one_digit: Comparison) -> Comparison:
    """Two different numbers written on ``width`` digits: one digit wrong, two adjacent digits
    swapped (``transposed-digits``), or different."""
    if width == 2:  # day or month: arithmetic is cheaper than text
        tx, ux = divmod(x, 10)
        ty, uy = divmod(y, 10)
        if tx == ty or ux == uy:
            return one_digit
        return DATE_TRANSPOSED if tx == uy and ux == ty else DATE_DIFFERENT
    sx, sy = f"{x:0{width}d}", f"{y:0{width}d}"
    diff = [i for i in range(width) if sx[i] != sy[i]]
    if len(diff) == 1:
        return one_digit
    if len(diff) == 2 and diff[1] == diff[0] + 1:
        i, j = diff
        if sx[i] == sy[j] and sx[j] == sy[i]:
            return DATE_TRANSPOSED
    return DATE_DIFFERENT


def compare_dates(a: date, a_completed: bool, b: date, b_completed: bool) -> Comparison:
    """Birth dates: equal, day/month swapped, one digit slipped or two swapped; a date completed
    from a partial one (RNIV EXI PP 19) agrees, ``partial``, with any date it may stand for."""
    if a_completed or b_completed:
        return DATE_COMPLETED if _compatible(a, a_completed, b, b_completed) else DATE_COMPLETED_DIFFERENT
    if a == b:
        return DATE_EQUAL
    ya, ma, da, yb, mb, db = a.year, a.month, a.day, b.year, b.month, b.day
    if ya == yb:
        if ma == mb:
            return _slip(da, db, 2, DATE_DIGIT_DAY)
        if da == db:
            return _slip(ma, mb, 2, DATE_DIGIT_MONTH)
        return DATE_SWAP if ma == db and da == mb else DATE_DIFFERENT
    if ma == mb and da == db:
        return _slip(ya, yb, 4, DATE_DIGIT_YEAR)
    return DATE_DIFFERENT


def _patterns(d: date, completed: bool) -> tuple[tuple[str, int], ...]:
    """What a stored date may stand for: the date, a whole year, a month, or a day of any month.

    Completion (RNIV EXI PP 19): unknown day and month give 31/12; an unknown day gives the 1st;
    an unknown month gives January. 01/01 is read as a whole year too (senders that complete so).
    """
    if not completed:
        return (("date", d.toordinal()),)
    if (d.month, d.day) in ((12, 31), (1, 1)):
        return (("year", 0),)
    found: list[tuple[str, int]] = []
    if d.day == 1:
        found.append(("month", d.month))
    if d.month == 1:
        found.append(("day", d.day))
    return tuple(found) or (("date", d.toordinal()),)


def _meet(p: tuple[str, int], q: tuple[str, int], year: int) -> bool:
    """Whether two patterns of the same year share a date."""
    if p[0] == "year" or q[0] == "year":
        return True
    if p[0] == q[0]:
        return p[1] == q[1]  # same date, same month, or same day of the month
    kinds = {p[0]: p[1], q[0]: q[1]}
    if "date" in kinds:
        ordinal = date.fromordinal(kinds["date"])
        return ordinal.day == kinds["day"] if "day" in kinds else ordinal.month == kinds["month"]
    return kinds["day"] <= calendar.monthrange(year, kinds["month"])[1]  # a day and a month


def _compatible(a: date, a_completed: bool, b: date, b_completed: bool) -> bool:
    if a.year != b.year:
        return False
    return any(_meet(p, q, a.year) for p in _patterns(a, a_completed) for q in _patterns(b, b_completed))


def compare_birth_dates(a: MatchRecord, b: MatchRecord) -> Comparison:
    """Birth dates of two records."""
    return compare_dates(a.birth_date, a.birth_date_completed, b.birth_date, b.birth_date_completed)


PLACE_EQUAL = _c(Level.EXACT, "same-commune")
PLACE_COUNTRY = _c(Level.EXACT, "same-country")
PLACE_CITY = _c(Level.CLOSE, "same-city")
PLACE_DEPARTEMENT = _c(Level.PARTIAL, "same-departement")
PLACE_DIFFERENT = _c(Level.DIFFERENT, "different")


def compare_places(a: PlaceKey | None, b: PlaceKey | None) -> Comparison:
    """Birth places (INSEE COG): same commune or country, same city (arrondissement), same département."""
    if a is None or b is None:
        return MISSING
    if a.code == b.code:
        return PLACE_COUNTRY if a.abroad else PLACE_EQUAL
    if a.city == b.city:
        return PLACE_CITY
    if a.departement is not None and a.departement == b.departement:
        return PLACE_DEPARTEMENT
    return PLACE_DIFFERENT


def compare_birth_places(a: MatchRecord, b: MatchRecord) -> Comparison:
    """Birth places of two records."""
    return compare_places(a.birth_place, b.birth_place)


SEX_EQUAL = _c(Level.EXACT, "equal")
SEX_DIFFERENT = _c(Level.DIFFERENT, "different")


def compare_sexes(a: MatchRecord, b: MatchRecord) -> Comparison:
    """Sex M or F; U (unknown) is missing."""
    if a.sex == "U" or b.sex == "U" or not a.sex or not b.sex:
        return MISSING
    return SEX_EQUAL if a.sex == b.sex else SEX_DIFFERENT


INS_ACTIVE = _c(Level.EXACT, "same-active-ins")
INS_HISTORIC = _c(Level.EXACT, "same-ins-in-history")
INS_DIFFERENT = _c(Level.DIFFERENT, "different-active-ins")


def compare_ins(a: MatchRecord, b: MatchRecord) -> Comparison:
    """INS: the same matricule, active or in history, on both; or two different active INS."""
    if not a.ins or not b.ins:
        return MISSING
    if a.active_ins is not None and a.active_ins == b.active_ins:
        return INS_ACTIVE
    if not a.ins.isdisjoint(b.ins):
        return INS_HISTORIC
    if a.active_ins is not None and b.active_ins is not None:
        return INS_DIFFERENT
    return MISSING
