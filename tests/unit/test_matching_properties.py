"""Properties of the score and of the blocking keys, on generated identities (hypothesis)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from app.domain.matching import (
    Grade,
    Level,
    MatchRecord,
    RecordBuilder,
    Rule,
    blocking_keys,
    compare_records,
    grade_of,
    match_score,
    score_pair,
)
from app.domain.matching.blocking import KeyMaker, KeySource, blocking_key_set
from tests.strategies_ins import matricules, names

PLACES = ["75112", "75056", "75115", "29019", "29232", "2A004", "2B033", "97105", "97209", "99134", "99109"]

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))


@st.composite
def traits(draw: st.DrawFn) -> dict[str, Any]:
    """Trait values of one identity, as ``MatchRecord.of`` takes them."""
    return {
        "birth_name": draw(names(max_size=30)),
        "first_names": draw(names(first_names=True, max_size=30)),
        "birth_date": draw(dates),
        "birth_date_completed": draw(st.booleans()),
        "sex": draw(st.sampled_from("MFU")),
        "birth_place_code": draw(st.none() | st.sampled_from(PLACES)),
        "used_name": draw(st.none() | names(max_size=30)),
        "used_first_name": draw(st.none() | names(max_size=20)),
        "active_ins": draw(st.none() | matricules()),
        "ins_history": draw(st.lists(matricules(), max_size=2)),
        "homonym": draw(st.booleans()),
    }


# The groups of values that make one compared trait.
TRAIT_FIELDS = {
    "ins": ("active_ins", "ins_history"),
    "birth_name": ("birth_name",),
    "first_names": ("first_names", "used_first_name"),
    "birth_date": ("birth_date", "birth_date_completed"),
    "sex": ("sex",),
    "birth_place_code": ("birth_place_code",),
}
TRAIT_INDEX = {name: i for i, name in enumerate(TRAIT_FIELDS)}


def rec(values: dict[str, Any]) -> MatchRecord:
    return MatchRecord.of(**values)


@given(traits(), traits())
def test_score_is_a_probability_graded_by_its_thresholds(a: dict[str, Any], b: dict[str, Any]) -> None:
    result = score_pair(rec(a), rec(b))
    assert 0.0 <= result.score <= 1.0
    assert result.grade is grade_of(result.score)
    assert match_score(rec(a), rec(b)) == result.score


@given(traits(), traits())
def test_score_is_symmetric(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert score_pair(rec(a), rec(b)) == score_pair(rec(b), rec(a))


@given(traits(), traits(), st.sampled_from(list(TRAIT_FIELDS)))
def test_making_one_trait_agree_never_lowers_the_score(
    a: dict[str, Any], b: dict[str, Any], trait: str
) -> None:
    improved = {**b, **{f: a[f] for f in TRAIT_FIELDS[trait]}}
    assert match_score(rec(a), rec(improved)) >= match_score(rec(a), rec(b))


@st.composite
def variant(draw: st.DrawFn, a: dict[str, Any], trait: str) -> dict[str, Any]:
    """Values of one trait close to a's (the same, with a French error) or unrelated."""
    d: date = a["birth_date"]
    pick = draw(st.integers(0, 1000))
    if trait == "birth_name":
        options = [a["birth_name"], _typo(a["birth_name"], pick, pick % 4), "DE " + a["birth_name"],
                   a["birth_name"] + "-MARTIN", a["used_name"] or "MARTIN", draw(names(max_size=20))]
        return {"birth_name": draw(st.sampled_from(options))}
    if trait == "first_names":
        words = _words(a["first_names"])
        options = [a["first_names"], words[0], " ".join(reversed(words)),
                   _typo(a["first_names"], pick, pick % 4), a["used_first_name"] or "LOUISE",
                   draw(names(first_names=True, max_size=20))]
        used = draw(st.sampled_from([None, a["used_first_name"], words[-1]]))
        return {"first_names": draw(st.sampled_from(options)), "used_first_name": used}
    if trait == "birth_date":
        options = [(d, a["birth_date_completed"]), (d, False), (_digit_slip(d, "day", pick), False),
                   (date(d.year, 12, 31), True), (date(d.year, d.month, 1), True), (draw(dates), False)]
        if d.day <= 12:
            options.append((d.replace(month=d.day, day=d.month), False))
        value, completed = draw(st.sampled_from(options))
        return {"birth_date": value, "birth_date_completed": completed}
    if trait == "sex":
        return {"sex": draw(st.sampled_from("MFU"))}
    if trait == "birth_place_code":
        return {"birth_place_code": draw(st.sampled_from([a["birth_place_code"], None, *PLACES]))}
    history = [*a["ins_history"], *([a["active_ins"]] if a["active_ins"] else [])]
    active = draw(st.sampled_from([a["active_ins"], None, draw(matricules())]))
    return {"active_ins": active, "ins_history": draw(st.sampled_from([[], history]))}


@st.composite
def near(draw: st.DrawFn, a: dict[str, Any]) -> dict[str, Any]:
    """An identity like a, with some traits changed by ``variant``."""
    b = dict(a)
    for trait in draw(st.sets(st.sampled_from(list(TRAIT_FIELDS)))):
        b.update(draw(variant(a, trait)))
    b["homonym"] = draw(st.booleans())
    return b


@given(traits(), st.sampled_from(list(TRAIT_FIELDS)), st.data())
def test_better_agreement_on_one_trait_never_scores_lower(
    a: dict[str, Any], trait: str, data: st.DataObject
) -> None:
    """Two versions of b differing in one trait: the one that agrees better with a scores no lower;
    one that disagrees (``different``) where the other was missing scores no higher."""
    b = data.draw(near(a))
    changed = {**b, **data.draw(variant(a, trait))}
    i = TRAIT_INDEX[trait]
    level_b = compare_records(rec(a), rec(b))[i]
    level_changed = compare_records(rec(a), rec(changed))[i]
    s_b, s_changed = match_score(rec(a), rec(b)), match_score(rec(a), rec(changed))
    if Level.MISSING in (level_b.level, level_changed.level):
        if level_changed.level is Level.DIFFERENT:
            assert s_changed <= s_b
        return
    if level_changed.rank <= level_b.rank:
        assert s_changed >= s_b
    if level_changed.rank >= level_b.rank:
        assert s_changed <= s_b


@given(traits(), st.data())
def test_near_pairs_score_symmetrically_within_bounds(a: dict[str, Any], data: st.DataObject) -> None:
    b = data.draw(near(a))
    result = score_pair(rec(a), rec(b))
    assert result == score_pair(rec(b), rec(a))
    assert 0.0 <= result.score <= 1.0 and result.grade is grade_of(result.score)
    assert match_score(rec(a), rec(b)) == result.score
    raw = 1.0 / (1.0 + 2.0 ** -result.weight)
    if Rule.SAME_INS_TRAITS_DISAGREE in result.rules:  # a collision: in the possible band
        assert 0.5 <= result.score < 0.9
    elif Rule.SAME_INS in result.rules:
        assert result.score == max(raw, 0.99)
    else:  # a bound never raises a score
        assert result.score <= raw


@given(traits())
def test_an_identity_is_certainly_itself(a: dict[str, Any]) -> None:
    """With a full birth date (not completed), or the INS; a confirmed homonym needs its INS."""
    assume(not a["birth_date_completed"] or a["active_ins"])
    assume(not a["homonym"] or a["active_ins"])
    assert score_pair(rec(a), rec(a)).grade is Grade.CERTAIN


REAL_FIRST_NAMES = ["LEA", "LEO", "LAURE", "LAURA", "JULIEN", "JULIAN", "LOUIS", "LOUISE", "THEO", "THEA",
                    "EMMA", "EMMY", "NOE", "NOA", "MARIE", "MARIO", "LINA", "LINO", "JEAN", "JOAN", "YANN",
                    "YANNE", "MATHIS", "MATHIAS", "ELOISE", "HELOISE", "CAMILLE", "CAMILO"]
first_name_lists = st.sampled_from(REAL_FIRST_NAMES) | names(first_names=True, max_size=30)


@st.composite
def other_first_names(draw: st.DrawFn, first_names: str) -> str:
    """First names that share no first name with the given ones (a twin's, a homonym's)."""
    value = draw(first_name_lists)
    words = set(value.replace("-", " ").replace("'", " ").split())
    theirs = set(first_names.replace("-", " ").replace("'", " ").split())
    assume(not words & theirs)
    assume("".join(sorted(words)) != "".join(sorted(theirs)))
    assume(value.replace(" ", "").replace("-", "").replace("'", "") !=
           first_names.replace(" ", "").replace("-", "").replace("'", ""))
    return value


@given(traits(), st.data())
def test_twins_and_homonyms_are_never_certain(a: dict[str, Any], data: st.DataObject) -> None:
    """Same birth name and date, often the same place; other first names; no INS to tell them apart."""
    a = {**a, "active_ins": None, "ins_history": [], "used_first_name": None,
         "first_names": data.draw(first_name_lists)}
    twin = {
        **a,
        "first_names": data.draw(other_first_names(a["first_names"])),
        "sex": data.draw(st.sampled_from("MFU")),
        "birth_place_code": data.draw(st.sampled_from([a["birth_place_code"], *PLACES])),
        "used_name": data.draw(st.sampled_from([a["used_name"], None])),
        "homonym": data.draw(st.booleans()),
    }
    assert score_pair(rec(a), rec(twin)).grade is not Grade.CERTAIN


@given(traits(), traits(), matricules(), matricules())
def test_two_different_active_ins_are_never_certain(
    a: dict[str, Any], b: dict[str, Any], ins_a: str, ins_b: str
) -> None:
    assume(ins_a != ins_b)
    a = {**a, "active_ins": ins_a, "ins_history": []}
    b = {**b, "active_ins": ins_b, "ins_history": []}
    for other in (b, {**a, "active_ins": ins_b}):  # a random one, and a's own traits
        result = score_pair(rec(a), rec(other))
        assert result.grade is not Grade.CERTAIN
        assert result.traits[0].level is Level.DIFFERENT


@given(traits(), traits(), matricules())
def test_the_same_ins_is_certain_unless_the_traits_disagree(
    a: dict[str, Any], b: dict[str, Any], ins: str
) -> None:
    a = {**a, "active_ins": ins}
    b = {**b, "ins_history": [*b["ins_history"], ins]}
    result = score_pair(rec(a), rec(b))
    traits_weight = sum(t.weight for t in result.traits[1:])
    if traits_weight >= 0:
        assert result.grade is Grade.CERTAIN and result.rules == (Rule.SAME_INS,)
    else:  # one INS on two persons' traits: a collision to examine, shown but never more than possible
        assert result.grade is Grade.POSSIBLE and Rule.SAME_INS_TRAITS_DISAGREE in result.rules


@given(traits())
def test_a_confirmed_homonym_is_not_certain_without_its_ins(a: dict[str, Any]) -> None:
    a = {**a, "homonym": True, "active_ins": None, "ins_history": []}
    assert score_pair(rec(a), rec(a)).grade is not Grade.CERTAIN


# --- blocking: one injected French error still shares a key with the right record ----------------


def _typo(value: str, position: int, kind: int) -> str:
    letters = [i for i, c in enumerate(value) if c.isalpha()]
    i = letters[position % len(letters)]
    if kind == 0:  # substitution
        return value[:i] + ("A" if value[i] != "A" else "E") + value[i + 1:]
    if kind == 1 and len(letters) > 1:  # deletion
        return value[:i] + value[i + 1:]
    if kind == 2:  # insertion
        return value[:i] + "E" + value[i:]
    if i + 1 < len(value) and value[i + 1].isalpha():  # transposition
        return value[:i] + value[i + 1] + value[i] + value[i + 2:]
    return value + "E"


def _digit_slip(d: date, field: str, pick: int) -> date:
    """The date with one digit of its day, month or year replaced (a valid date, or assume fails)."""
    width = 4 if field == "year" else 2
    digits = f"{getattr(d, field):0{width}d}"
    slipped = []
    for position in range(width):
        for digit in "0123456789":
            if digit != digits[position]:
                try:
                    value = int(digits[:position] + digit + digits[position + 1:])
                    slipped.append(d.replace(**{field: value}))
                except ValueError:
                    continue
    slipped = [x for x in slipped if date(1900, 1, 1) <= x <= date(2025, 12, 31)]
    assume(slipped)
    return slipped[pick % len(slipped)]


def _words(first_names: str) -> list[str]:
    return first_names.replace("-", " ").replace("'", " ").split()


ERRORS = [
    "name-typo", "particle-lost", "particle-added", "compound-part", "married-name-as-birth-name",
    "only-first-first-name", "first-names-order", "used-first-name-typed", "first-name-typo",
    "day-month-swap", "day-digit", "month-digit", "year-digit", "completed-year", "completed-month",
    "sex", "birth-place", "separators-lost",
]


def inject(a: dict[str, Any], error: str, data: st.DataObject) -> dict[str, Any]:
    b = dict(a)
    d: date = a["birth_date"]
    pick = data.draw(st.integers(0, 1000))
    if error == "name-typo":
        b["birth_name"] = _typo(a["birth_name"], pick, pick % 4)
    elif error == "particle-lost":
        a["birth_name"] = "DE LA " + a["birth_name"]
    elif error == "particle-added":
        b["birth_name"] = "D'" + a["birth_name"]
    elif error == "compound-part":
        a["birth_name"] = a["birth_name"] + "-" + data.draw(names(max_size=12))
    elif error == "married-name-as-birth-name":
        a["used_name"] = a["used_name"] or data.draw(names(max_size=20))
        b["birth_name"], b["used_name"] = a["used_name"], None
    elif error == "only-first-first-name":
        b["first_names"] = _words(a["first_names"])[0]
    elif error == "first-names-order":
        b["first_names"] = " ".join(reversed(_words(a["first_names"])))
    elif error == "used-first-name-typed":
        a["used_first_name"] = a["used_first_name"] or data.draw(names(max_size=20))
        b["first_names"], b["used_first_name"] = a["used_first_name"], None
    elif error == "first-name-typo":
        b["first_names"] = _typo(a["first_names"], pick, pick % 4)
    elif error == "day-month-swap":
        assume(d.day <= 12)
        b["birth_date"] = d.replace(month=d.day, day=d.month)
    elif error in ("day-digit", "month-digit", "year-digit"):
        b["birth_date"] = _digit_slip(d, error.split("-")[0], pick)
    elif error == "completed-year":
        a["birth_date_completed"] = False
        b["birth_date"], b["birth_date_completed"] = date(d.year, 12, 31), True
    elif error == "completed-month":
        a["birth_date_completed"] = False
        b["birth_date"], b["birth_date_completed"] = date(d.year, d.month, 1), True
    elif error == "sex":
        b["sex"] = {"M": "F", "F": "M", "U": "M"}[a["sex"]]
    elif error == "birth-place":
        b["birth_place_code"] = data.draw(st.sampled_from(PLACES))
    elif error == "separators-lost":
        b["birth_name"] = a["birth_name"].replace(" ", "").replace("-", "").replace("'", "")
    return b


@given(traits(), st.sampled_from(ERRORS), st.data())
def test_one_french_error_still_shares_a_blocking_key(
    a: dict[str, Any], error: str, data: st.DataObject
) -> None:
    a = {**a, "active_ins": None, "ins_history": []}  # no INS: the traits alone must meet
    b = inject(a, error, data)
    assert blocking_keys(rec(a)) & blocking_keys(rec(b)), error


@given(traits(), st.sampled_from(ERRORS), st.data())
def test_one_french_error_is_still_at_least_possible(
    a: dict[str, Any], error: str, data: st.DataObject
) -> None:
    """A duplicate with one error, a full date and its birth place, no homonym flag."""
    a = {**a, "homonym": False, "active_ins": None, "ins_history": [], "birth_date_completed": False,
         "birth_place_code": data.draw(st.sampled_from(PLACES)), "sex": data.draw(st.sampled_from("MF"))}
    if error == "name-typo":  # shorter names one letter apart are other names (LY / LI)
        assume(len(_letters(a["birth_name"])) >= 4)
    if error == "first-name-typo":
        assume(len(_letters(a["first_names"])) >= 5)
    b = inject(a, error, data)
    if error == "name-typo":  # a deletion can leave 3 letters: then, by design, another name (NG / NGO)
        assume(len(_letters(b["birth_name"])) >= 4)
    if error == "compound-part":  # a one-letter part reads as an elided particle (D', L')
        assume(all(len(part) >= 2 for part in a["birth_name"].replace("'", " ").replace("-", " ").split()))
    assert score_pair(rec(a), rec(b)).grade is not Grade.NO_MATCH, error


def _letters(value: str) -> str:
    return "".join(c for c in value if c.isalpha())


def test_records_are_values() -> None:
    a = MatchRecord.of(birth_name="DUPONT", first_names="JEAN", birth_date=date(1980, 3, 4), sex="M")
    assert a._replace(identity_id=3) != a
    assert MatchRecord.of(birth_name="DUPONT", first_names="JEAN", birth_date=date(1980, 3, 4), sex="M") == a


@given(st.lists(traits(), max_size=6), st.lists(st.integers(0, 5), max_size=12))
def test_a_scan_builds_the_records_match_record_of_builds(
    values: list[dict[str, Any]], again: list[int]
) -> None:
    """A scan's builder keeps each name's features: the records are those of ``MatchRecord.of``,
    for values seen first and seen again (from its dictionaries)."""
    builder = RecordBuilder()
    for n, v in enumerate([*values, *(values[i] for i in again if i < len(values))]):
        built = builder.record(n, v["birth_name"], v["first_names"], v["birth_date"], v["sex"],
                               v["birth_date_completed"], v["birth_place_code"], v["used_name"],
                               v["used_first_name"], v["active_ins"], v["ins_history"], v["homonym"])
        assert built == MatchRecord.of(**v, identity_id=n)


@given(st.lists(st.lists(traits(), max_size=5), max_size=4))
def test_the_scan_s_other_process_makes_the_keys_of_the_records(pages: list[list[dict[str, Any]]]) -> None:
    """A scan groups the keys in another process from a few values of each record, each name sent
    once (``KeySource`` there, ``KeyMaker`` here): the keys are the records' own."""
    source, maker = KeySource(), KeyMaker()
    for page in pages:
        records = [rec(values) for values in page] * 2  # a name again within a page, and later
        new, inputs = source.page(records)
        maker.names(new)
        assert [maker.keys(one) for one in inputs] == [blocking_key_set(r) for r in records]
