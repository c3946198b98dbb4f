"""Trait comparisons on the identity errors met in French hospitals."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.identity import Identity
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.domain.matching import (
    Level,
    MatchRecord,
    compare_birth_names,
    compare_dates,
    compare_first_name_lists,
    compare_ins,
    compare_names,
    compare_places,
    compare_sexes,
    from_identity,
)
from app.domain.matching.record import place_key
from app.domain.matching.text import first_names_key, name_key, within_one_edit
from app.domain.status import Attribute, IdentityState
from app.domain.traits import Sex, Traits

INS_A = "275126322074974"  # ins-rniv §1 known-good examples
INS_B = "297022A02077878"
INS_C = "160012B02077713"


def record(**changes: object) -> MatchRecord:
    values: dict[str, object] = {
        "birth_name": "DUPONT", "first_names": "JEAN PIERRE", "birth_date": date(1980, 3, 4), "sex": "M",
    }
    values.update(changes)
    return MatchRecord.of(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "level", "code"),
    [
        ("DUPONT", "DUPONT", Level.EXACT, "equal"),
        ("LE GALL", "LEGALL", Level.EXACT, "separators"),
        ("D'ARTAGNAN", "DARTAGNAN", Level.EXACT, "separators"),
        ("DELAFONTAINE", "DE LA FONTAINE", Level.EXACT, "separators"),
        ("DE LA FONTAINE", "LAFONTAINE", Level.CLOSE, "particle"),
        ("DE LA FONTAINE", "FONTAINE", Level.CLOSE, "particle"),
        ("D'ARTAGNAN", "ARTAGNAN", Level.CLOSE, "particle"),
        ("VAN DER BERG", "BERG", Level.CLOSE, "particle"),
        ("DUPONT", "DUPOMT", Level.TYPO, "one-character"),
        ("DUPONT", "DUOPNT", Level.TYPO, "one-character"),
        ("GAUTIER", "GAUTHIER", Level.TYPO, "one-character"),
        ("MARTIN DUPONT", "DUPONT-MARTIN", Level.TYPO, "word-order"),
        ("ROUSSEAU", "ROUSSO", Level.PHONETIC, "sounds-alike"),
        ("SCHMITT", "CHMIT", Level.PHONETIC, "sounds-alike"),
        ("MARTIN-DUPONT", "MARTIN", Level.PARTIAL, "compound-part"),
        ("MARTIN-DUPONT", "DUPONT", Level.PARTIAL, "compound-part"),
        ("DUPONT-DUPONT", "DUPONT", Level.PARTIAL, "compound-part"),  # a repeated part
        ("MARTIN-DUPONT", "MARTIN-DURAND", Level.DIFFERENT, "different"),
        ("NG", "NGO", Level.DIFFERENT, "different"),  # a short name one letter apart is another name
        ("DUPONT", "DURAND", Level.DIFFERENT, "different"),
    ],
)
def test_family_names(a: str, b: str, level: Level, code: str) -> None:
    for x, y in ((a, b), (b, a)):
        found = compare_names(name_key(x), name_key(y))
        assert (found.level, found.code) == (level, code)


def test_married_name_typed_as_birth_name() -> None:
    married = record(birth_name="DURAND", used_name="MARTIN", sex="F", first_names="MARIE")
    typed = record(birth_name="MARTIN", sex="F", first_names="MARIE")
    for a, b in ((married, typed), (typed, married)):
        found = compare_birth_names(a, b)
        assert (found.level, found.code) == (Level.ALIAS, "birth-vs-used-name")


def test_a_used_name_alone_in_common_is_not_evidence() -> None:
    a = record(birth_name="DURAND", used_name="MARTIN")
    b = record(birth_name="BERNARD", used_name="MARTIN")  # sisters-in-law share the married name
    assert compare_birth_names(a, b).level is Level.DIFFERENT


def test_a_birth_name_agreement_beats_the_used_name() -> None:
    a = record(birth_name="DURAND", used_name="MARTIN")
    assert compare_birth_names(a, record(birth_name="DURAND", used_name="MARTIN")).level is Level.EXACT


@pytest.mark.parametrize(
    ("a", "used_a", "b", "level", "code"),
    [
        ("JEAN PIERRE", None, "JEAN PIERRE", Level.EXACT, "equal"),
        ("JEAN PIERRE", None, "JEAN-PIERRE", Level.EXACT, "separators"),
        ("JEAN PIERRE", None, "JEANPIERRE", Level.EXACT, "separators"),
        ("JEAN", None, "JEAN PIERRE MARIE", Level.CLOSE, "first-names-prefix"),
        ("JEAN-PIERRE", None, "JEAN PIERRE MARIE", Level.CLOSE, "first-names-prefix"),
        ("MARIE LOUISE", "LOUISE", "LOUISE", Level.ALIAS, "used-first-name"),
        ("MARIE ANNE", None, "ANNE MARIE", Level.TYPO, "order"),
        ("CHRISTOPHE", None, "CRISTOPHE", Level.TYPO, "one-character"),
        ("PHILIPPE", None, "FILIPE", Level.PHONETIC, "sounds-alike"),
        ("LEA", None, "LEO", Level.PHONETIC, "sounds-alike"),
        ("MARIE LOUISE", None, "LOUISE", Level.PARTIAL, "some-first-names"),
        ("JEAN PAUL", None, "JEAN PIERRE", Level.DIFFERENT, "conflicting"),
        ("PAUL", None, "LUC", Level.DIFFERENT, "different"),
        ("", None, "LUC", Level.MISSING, "missing"),
    ],
)
def test_first_names(a: str, used_a: str | None, b: str, level: Level, code: str) -> None:
    ka, kb = first_names_key(a, used_a), first_names_key(b)
    for x, y in ((ka, kb), (kb, ka)):
        found = compare_first_name_lists(x, y)
        assert (found.level, found.code) == (level, code)


@pytest.mark.parametrize(
    ("a", "b", "level", "code"),
    [
        (date(1980, 3, 4), date(1980, 3, 4), Level.EXACT, "equal"),
        (date(1980, 3, 4), date(1980, 4, 3), Level.TYPO, "day-month-swap"),
        (date(1980, 3, 4), date(1980, 3, 14), Level.TYPO, "one-digit-day"),
        (date(1980, 3, 4), date(1980, 8, 4), Level.TYPO, "one-digit-month"),
        (date(1980, 3, 4), date(1981, 3, 4), Level.TYPO, "one-digit-year"),
        (date(1980, 3, 4), date(1908, 3, 4), Level.TYPO, "transposed-digits"),
        (date(1980, 3, 12), date(1980, 3, 21), Level.TYPO, "transposed-digits"),
        (date(1980, 3, 4), date(1982, 5, 4), Level.DIFFERENT, "different"),
        (date(1980, 3, 4), date(1980, 5, 6), Level.DIFFERENT, "different"),
        (date(1980, 3, 4), date(1991, 3, 4), Level.DIFFERENT, "different"),
    ],
)
def test_birth_dates(a: date, b: date, level: Level, code: str) -> None:
    for x, y in ((a, b), (b, a)):
        found = compare_dates(x, False, y, False)
        assert (found.level, found.code) == (level, code)


@pytest.mark.parametrize(
    ("completed", "other", "other_completed", "compatible"),
    [
        (date(1950, 12, 31), date(1950, 6, 15), False, True),  # "1950": any date of 1950
        (date(1950, 12, 31), date(1951, 6, 15), False, False),
        (date(1950, 1, 1), date(1950, 8, 20), False, True),  # completed on 01/01 elsewhere
        (date(1950, 6, 1), date(1950, 6, 20), False, True),  # "1950-06": any day of June
        (date(1950, 6, 1), date(1950, 7, 20), False, False),
        (date(1950, 1, 15), date(1950, 9, 15), False, True),  # day known, month not: the 15th
        (date(1950, 1, 15), date(1950, 9, 16), False, False),
        (date(1950, 12, 31), date(1950, 12, 31), False, True),  # same value, but only a year is known
        (date(1950, 6, 1), date(1950, 1, 15), True, True),  # June and "the 15th": 15 June
        (date(1950, 2, 1), date(1950, 1, 31), True, False),  # February has no 31st
        (date(1950, 12, 31), date(1950, 1, 15), True, True),
    ],
)
def test_completed_partial_dates(
    completed: date, other: date, other_completed: bool, compatible: bool
) -> None:
    expected = (Level.PARTIAL, "completed-date-compatible") if compatible else (
        Level.DIFFERENT, "completed-date-incompatible")
    for found in (compare_dates(completed, True, other, other_completed),
                  compare_dates(other, other_completed, completed, True)):
        assert (found.level, found.code) == expected


@pytest.mark.parametrize(
    ("a", "b", "level", "code"),
    [
        ("75112", "75112", Level.EXACT, "same-commune"),
        ("99134", "99134", Level.EXACT, "same-country"),
        ("75112", "75056", Level.CLOSE, "same-city"),  # Paris 12e vs the commune of Paris
        ("75112", "75115", Level.CLOSE, "same-city"),
        ("69381", "69123", Level.CLOSE, "same-city"),
        ("13201", "13055", Level.CLOSE, "same-city"),
        ("29019", "29232", Level.PARTIAL, "same-departement"),
        ("2A004", "2B033", Level.PARTIAL, "same-departement"),  # Corsica, split in 1976
        ("20004", "2A004", Level.PARTIAL, "same-departement"),
        ("97105", "97101", Level.PARTIAL, "same-departement"),
        ("97105", "97209", Level.DIFFERENT, "different"),  # Guadeloupe, Martinique: 3 characters
        ("99134", "99109", Level.DIFFERENT, "different"),  # two countries
        ("99134", "75112", Level.DIFFERENT, "different"),
        ("29019", "35238", Level.DIFFERENT, "different"),
    ],
)
def test_birth_places(a: str, b: str, level: Level, code: str) -> None:
    for x, y in ((a, b), (b, a)):
        found = compare_places(place_key(x), place_key(y))
        assert (found.level, found.code) == (level, code)
    assert compare_places(place_key(a), None).level is Level.MISSING


def test_sex_unknown_is_missing() -> None:
    assert compare_sexes(record(sex="M"), record(sex="M")).level is Level.EXACT
    assert compare_sexes(record(sex="M"), record(sex="F")).level is Level.DIFFERENT
    assert compare_sexes(record(sex="U"), record(sex="F")).level is Level.MISSING


def test_ins() -> None:
    active_a = record(active_ins=INS_A)
    assert compare_ins(active_a, record(active_ins=INS_A)).code == "same-active-ins"
    assert compare_ins(active_a, record(active_ins=INS_B, ins_history=[INS_A])).code == "same-ins-in-history"
    assert compare_ins(active_a, record(active_ins=INS_B)).level is Level.DIFFERENT
    assert compare_ins(active_a, record()).level is Level.MISSING
    # an INS only in history is no longer valid: it does not count against an active one
    assert compare_ins(active_a, record(ins_history=[INS_C])).level is Level.MISSING


def _identity(state: IdentityState, records: tuple[InsRecord, ...]) -> Identity:
    traits = Traits("DURAND", "MARIE LOUISE", "MARIE", Sex.F, date(1950, 12, 31), True, "75112",
                    "MARTIN", "LOUISE")
    return Identity(7, "IPP7", traits, state, 1, records)


def test_record_from_an_identity() -> None:
    records = (InsRecord(Ins(INS_A, OID_NIR), True, "INSI"), InsRecord(Ins(INS_B, OID_NIR), False, "INSI"))
    found = from_identity(_identity(IdentityState(True, True, frozenset({Attribute.HOMA})), records))
    assert found.identity_id == 7
    assert found.active_ins == INS_A and found.ins == {INS_A, INS_B}
    assert found.homonym
    assert found.birth_date_completed
    assert found.used_name is not None and found.used_name.compact == "MARTIN"
    assert found.first_names.used == "LOUISE"
    assert found.birth_place is not None and found.birth_place.departement == "75"


def test_the_ins_of_a_doubtful_identity_is_not_compared() -> None:
    records = (InsRecord(Ins(INS_A, OID_NIR), True, "INSI"),)
    found = from_identity(_identity(IdentityState(attributes=frozenset({Attribute.DOUT})), records))
    assert found.active_ins is None and not found.ins


def _osa(a: str, b: str) -> int:
    """Reference optimal string alignment distance (dynamic programming)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@given(st.text(alphabet="ABN", max_size=7), st.text(alphabet="ABN", max_size=7))
def test_within_one_edit_is_damerau_distance_at_most_one(a: str, b: str) -> None:
    assert within_one_edit(a, b) == (_osa(a, b) <= 1)
