"""The score of a pair: grades of French duplicates, twins and homonyms, rules, explanation, model."""

from __future__ import annotations

import math
from datetime import date

import pytest

from app.domain.matching import (
    DEFAULT_MODEL,
    TRAITS,
    Grade,
    Level,
    MatchModel,
    MatchRecord,
    Rule,
    TraitWeights,
    grade_of,
    match_score,
    prior_for,
    score_pair,
)
from app.domain.matching.compare import LEVELS

INS_A = "275126322074974"
INS_B = "297022A02077878"


def record(**changes: object) -> MatchRecord:
    values: dict[str, object] = {
        "birth_name": "DUPONT", "first_names": "JEAN PIERRE", "birth_date": date(1980, 3, 4), "sex": "M",
        "birth_place_code": "75112",
    }
    values.update(changes)
    return MatchRecord.of(**values)  # type: ignore[arg-type]


JEAN = record()


@pytest.mark.parametrize(
    ("label", "a", "b", "grade"),
    [
        ("the same identity", JEAN, JEAN, Grade.CERTAIN),
        ("separators", JEAN, record(first_names="JEAN-PIERRE"), Grade.CERTAIN),
        ("only the first first name", JEAN, record(first_names="JEAN"), Grade.CERTAIN),
        ("one letter of the name", JEAN, record(birth_name="DUPOND"), Grade.CERTAIN),
        ("particle lost", record(birth_name="DE LA FONTAINE"), record(birth_name="LAFONTAINE"),
         Grade.CERTAIN),
        ("one part of a compound name", record(birth_name="MARTIN-DUPONT"), record(birth_name="MARTIN"),
         Grade.CERTAIN),
        ("married name typed as birth name",
         record(birth_name="DURAND", used_name="MARTIN", sex="F", first_names="MARIE"),
         record(birth_name="MARTIN", sex="F", first_names="MARIE"), Grade.CERTAIN),
        ("day and month swapped", JEAN, record(birth_date=date(1980, 4, 3)), Grade.PROBABLE),
        ("first names in another order", JEAN, record(first_names="PIERRE JEAN"), Grade.PROBABLE),
        ("sex typed wrong", JEAN, record(sex="F"), Grade.PROBABLE),
        ("another birth date, same name and place", JEAN, record(birth_date=date(1955, 10, 21)),
         Grade.NO_MATCH),
        ("another person", JEAN, record(birth_name="BERNARD", first_names="LUC", birth_date=date(1975, 6, 7),
                                        birth_place_code="69123"), Grade.NO_MATCH),
    ],
)
def test_grades_of_french_cases(label: str, a: MatchRecord, b: MatchRecord, grade: Grade) -> None:
    assert score_pair(a, b).grade is grade, label


TWIN_NAMES = [("LEA", "LEO"), ("LAURE", "LAURA"), ("JULIEN", "JULIAN"), ("JEAN PAUL", "JEAN PIERRE"),
              ("MARIE ANNE", "ANNE MARIE"), ("LOUIS", "LOUISE"), ("THEO", "THEA"), ("PAUL", "MARC"),
              ("MARIE-LAURE", "MARIE-ANNE")]


@pytest.mark.parametrize(("first", "second"), TWIN_NAMES)
@pytest.mark.parametrize("same_sex", [True, False])
def test_twins_are_never_certain(first: str, second: str, same_sex: bool) -> None:
    """Same birth name, date and place; first names a letter, a sound or a word apart."""
    a = record(first_names=first, sex="F")
    b = record(first_names=second, sex="F" if same_sex else "M")
    result = score_pair(a, b)
    assert result.grade is not Grade.CERTAIN
    assert result.rules


@pytest.mark.parametrize(
    ("first", "second"), [("JEAN PAUL", "JEAN PIERRE"), ("PAUL", "MARC"), ("LEA", "LEO")]
)
def test_twins_with_other_first_names_are_at_most_possible(first: str, second: str) -> None:
    """Disagreeing first names, or a sex and first names that differ: a person decides."""
    result = score_pair(record(first_names=first, sex="F"), record(first_names=second, sex="M"))
    assert result.grade in (Grade.POSSIBLE, Grade.NO_MATCH)


def test_a_homonym_found_in_another_place_is_not_certain_either() -> None:
    assert score_pair(JEAN, record(first_names="LUC", birth_place_code="29019")).grade is not Grade.CERTAIN


def test_a_confirmed_homonym_needs_its_ins() -> None:
    homonym = JEAN._replace(homonym=True)
    result = score_pair(homonym, JEAN)
    assert result.grade is Grade.PROBABLE and result.rules == (Rule.HOMONYM,)
    with_ins = score_pair(homonym._replace(ins=frozenset({INS_A}), active_ins=INS_A),
                          JEAN._replace(ins=frozenset({INS_A}), active_ins=INS_A))
    assert with_ins.grade is Grade.CERTAIN


def test_the_same_ins_is_certain_but_on_disagreeing_traits_it_is_a_collision() -> None:
    a = record(active_ins=INS_A)
    typed = score_pair(a, record(first_names="JEAN-PIERRE", birth_date=date(1980, 4, 3), ins_history=[INS_A]))
    assert typed.grade is Grade.CERTAIN and typed.rules == (Rule.SAME_INS,)
    # A parent's matricule on a daughter's identity: same name, 30 years apart, born elsewhere.
    child = record(first_names="LUCIE", sex="F", birth_date=date(2010, 1, 2), birth_place_code="13055",
                   ins_history=[INS_A], active_ins=INS_B)
    result = score_pair(a, child)
    assert result.grade is Grade.POSSIBLE and 0.5 <= result.score < 0.9
    assert result.traits[0].code == "same-ins-in-history"
    assert result.rules == (Rule.SAME_INS, Rule.SAME_INS_TRAITS_DISAGREE)  # a collision to look at
    assert match_score(a, child) == result.score


def test_two_active_ins_are_two_persons_at_most_possible() -> None:
    result = score_pair(record(active_ins=INS_A), record(active_ins=INS_B))
    assert result.traits[0].level is Level.DIFFERENT and result.traits[0].weight < -5
    assert result.grade is Grade.POSSIBLE  # everything else equal: the cell sees it, not as a duplicate
    assert Rule.DIFFERENT_INS in result.rules


def test_a_bound_keeps_the_score_visibly_below_the_grade_it_forbids() -> None:
    result = score_pair(JEAN._replace(homonym=True), JEAN)
    raw = 1 / (1 + 2 ** -result.weight)
    assert raw > DEFAULT_MODEL.certain
    assert DEFAULT_MODEL.probable <= result.score < DEFAULT_MODEL.certain - 0.005


def test_explanation_names_traits_levels_and_weights_never_values() -> None:
    a = record(birth_name="DE LA FONTAINE", used_name="MARTIN", first_names="MARIE LOUISE", sex="F")
    b = record(birth_name="LAFONTAINE", first_names="MARIE", sex="F", birth_date=date(1980, 4, 3))
    result = score_pair(a, b)
    assert tuple(t.trait for t in result.traits) == TRAITS
    total = sum(t.weight for t in result.traits) + DEFAULT_MODEL.prior_log2_odds
    assert total == pytest.approx(result.weight)
    text = repr(result)
    for value in ("FONTAINE", "MARTIN", "MARIE", "LOUISE", "1980", "75112"):
        assert value not in text
    by_trait = {t.trait: (t.level, t.code) for t in result.traits}
    assert by_trait["birth_name"] == (Level.CLOSE, "particle")
    assert by_trait["first_names"] == (Level.CLOSE, "first-names-prefix")
    assert by_trait["birth_date"] == (Level.TYPO, "day-month-swap")
    assert by_trait["ins"] == (Level.MISSING, "missing")


def test_the_quick_score_is_the_explained_score() -> None:
    pairs = [(JEAN, JEAN), (JEAN, record(first_names="LEO")), (JEAN._replace(homonym=True), JEAN),
             (record(active_ins=INS_A), record(active_ins=INS_B)),
             (JEAN, record(sex="U", first_names="JEAN"))]
    for a, b in pairs:
        assert match_score(a, b) == score_pair(a, b).score


def test_grades_read_off_the_thresholds() -> None:
    assert [grade_of(s) for s in (0.995, 0.99, 0.95, 0.9, 0.6, 0.5, 0.49)] == [
        Grade.CERTAIN, Grade.CERTAIN, Grade.PROBABLE, Grade.PROBABLE, Grade.POSSIBLE, Grade.POSSIBLE,
        Grade.NO_MATCH]


def test_weights_are_log2_of_m_over_u_and_never_rise_towards_worse_levels() -> None:
    for trait in DEFAULT_MODEL.traits:
        present = [level for level in LEVELS if level in trait.m]
        weights = [trait.weight(level) for level in present]
        assert weights == sorted(weights, reverse=True), trait.trait
        assert weights[0] > 0 > weights[-1]
        assert math.isclose(sum(trait.m.values()), 1.0) and math.isclose(sum(trait.u.values()), 1.0)
        assert trait.weight(Level.MISSING) == 0.0
    name = DEFAULT_MODEL.traits[1]
    assert name.weight(Level.EXACT) == pytest.approx(math.log2(0.80 / 5e-4))


def test_a_model_whose_weights_rise_towards_worse_levels_is_refused() -> None:
    with pytest.raises(ValueError, match="must not increase"):
        TraitWeights("sex", {Level.EXACT: 0.5, Level.DIFFERENT: 0.5},
                     {Level.EXACT: 0.9, Level.DIFFERENT: 0.1})
    with pytest.raises(ValueError, match="thresholds"):
        MatchModel(certain=0.9, probable=0.95)


def test_a_smaller_repository_has_better_prior_odds() -> None:
    assert prior_for(100_000) > prior_for(1_000_000) == DEFAULT_MODEL.prior_log2_odds
    smaller = MatchModel(prior_log2_odds=prior_for(100_000))
    swap = record(birth_date=date(1980, 4, 3), birth_place_code=None)
    assert match_score(JEAN, swap, smaller) > match_score(JEAN, swap)
