"""The duplicate benchmark's synthetic population: reproducible, valid for Identito, truly labelled."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date

import pytest

from app.domain.ins import OID_NIA, OID_NIR, check_matricule
from bench.population import (
    DUPLICATE,
    ERROR_WEIGHTS,
    HARD_NEGATIVE,
    HARD_NEGATIVE_LABELS,
    NameTables,
    Population,
    PopulationConfig,
    Record,
    generate,
    identity_records,
    phonetic,
    rank_frequencies,
    read_records,
    read_truth,
    to_traits,
    truth_path_for,
    typo,
    write_population,
)

N = 3000
SEED = 41


@pytest.fixture(scope="module")
def names() -> NameTables:
    return NameTables()


@pytest.fixture(scope="module")
def population(names: NameTables) -> Population:
    return generate(N, SEED, names=names)


def _by_id(population: Population) -> dict[int, Record]:
    return {r.record_id: r for r in population.records}


def _compact(name: str) -> str:
    return re.sub(r"[ '-]", "", name)


def _damerau(a: str, b: str) -> int:
    """Optimal string alignment distance."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


STRICT = ("birth_name", "first_names", "sex", "birth_date", "birth_date_completed", "birth_place_code")


def _differing(a: Record, b: Record) -> set[str]:
    return {f for f in STRICT if getattr(a, f) != getattr(b, f)}


def test_same_seed_same_population_and_files(names: NameTables, population: Population, tmp_path) -> None:
    again = generate(N, SEED, names=names)
    assert again.records == population.records
    assert again.truth == population.truth
    write_population(population, tmp_path / "a.csv.gz")
    write_population(again, tmp_path / "b.csv.gz")
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    assert (tmp_path / "a.truth.csv").read_bytes() == (tmp_path / "b.truth.csv").read_bytes()


def test_another_seed_another_population(names: NameTables, population: Population) -> None:
    other = generate(N, SEED + 1, names=names)
    assert [r.birth_name for r in other.records] != [r.birth_name for r in population.records]


def test_files_round_trip(population: Population, tmp_path) -> None:
    truth_file = write_population(population, tmp_path / "pop.csv")
    assert truth_file == truth_path_for(tmp_path / "pop.csv") == tmp_path / "pop.truth.csv"
    assert list(read_records(tmp_path / "pop.csv")) == population.records
    assert read_truth(truth_file) == population.truth


def test_size_and_rates(population: Population) -> None:
    config = PopulationConfig()
    assert len(population.records) == N
    assert sorted(r.record_id for r in population.records) == list(range(1, N + 1))
    kinds = Counter(p.kind for p in population.truth)
    assert kinds[DUPLICATE] == round(config.duplicate_rate * N)
    labels = population.label_counts()
    assert labels["twins"] == round(config.twins_rate * N)
    assert labels["homonym"] == round(config.homonym_rate * N)
    assert labels["shared_nir"] >= 1
    assert set(labels) <= set(ERROR_WEIGHTS) | set(HARD_NEGATIVE_LABELS)
    pairs = [(p.left_id, p.right_id) for p in population.truth]
    assert len(pairs) == len(set(pairs))
    assert all(a < b for a, b in pairs)


def test_every_record_is_accepted_by_identito(population: Population) -> None:
    for record in population.records:
        traits = to_traits(record, population.today)
        assert traits.birth_name == record.birth_name
        assert traits.first_names == record.first_names
        assert traits.first_name == record.first_name == record.first_names.split(" ")[0]
        assert traits.birth_date_completed == record.birth_date_completed
        assert record.sex in ("M", "F")
        assert 1 <= len(record.first_names.split(" ")) <= 4
        if record.birth_place_code is not None:
            assert re.fullmatch(r"(?:\d{5}|2[AB]\d{3})", record.birth_place_code)


def test_matricules_are_valid_and_consistent_with_their_holder(population: Population) -> None:
    shared = {p.right_id for p in population.truth if p.label == "shared_nir"} | {
        p.left_id for p in population.truth if p.label == "shared_nir"}
    holders = [r for r in population.records if r.ins_matricule]
    assert 0.2 < len(holders) / len(population.records) < 0.4
    for record in holders:
        assert check_matricule(record.ins_matricule) == record.ins_matricule
        assert record.ins_oid in (OID_NIR, OID_NIA)
        if record.record_id in shared:
            continue
        matricule = record.ins_matricule
        expected_digits = {"M": "17", "F": "28"}[record.sex]
        assert matricule[0] in expected_digits
        assert (matricule[0] in "12") == (record.ins_oid == OID_NIR)
        assert matricule[1:3] == f"{record.birth_date.year % 100:02d}"
        assert matricule[3:5] == f"{record.birth_date.month:02d}"
        assert matricule[5:10] == record.birth_place_code
    counts = Counter(r.ins_matricule for r in holders)
    assert {m for m, c in counts.items() if c > 1} == {
        r.ins_matricule for r in population.records if r.record_id in shared}


def _check_duplicate(label: str, detail: str, a: Record, b: Record) -> None:
    differing = _differing(a, b)
    assert a.ins_matricule is None or b.ins_matricule is None, "a duplicate never shares the INS"
    if label == "exact_copy":
        assert differing == set() and a.used_name == b.used_name
    elif label == "married_name_as_birth_name":
        assert differing == {"birth_name"}
        assert a.birth_name in (b.used_name, b.birth_name) or b.birth_name == a.used_name
        woman = a if a.used_name and a.used_name != a.birth_name and b.birth_name == a.used_name else b
        assert woman.sex == "F"
    elif label == "typo":
        assert len(differing) == 1
        if differing == {"birth_name"}:
            assert _damerau(a.birth_name, b.birth_name) == 1
        else:
            assert _damerau(a.first_name, b.first_name) == 1
            assert a.first_names.split(" ")[1:] == b.first_names.split(" ")[1:]
    elif label == "phonetic":
        assert differing in ({"birth_name"}, {"first_names"})
    elif label == "separator":
        assert len(differing) == 1
        if differing == {"birth_name"}:
            assert _compact(a.birth_name) == _compact(b.birth_name)
        else:
            assert _compact(a.first_names) == _compact(b.first_names)
    elif label == "particle":
        assert differing == {"birth_name"}
        short, long = sorted((_compact(a.birth_name), _compact(b.birth_name)), key=len)
        assert long.endswith(short)
    elif label == "compound_name_part":
        assert differing == {"birth_name"}
        short, long = sorted((a.birth_name, b.birth_name), key=len)
        assert short in re.split(r"[ -]", long)
    elif label == "first_name_order":
        assert differing == {"first_names"}
        assert sorted(a.first_names.split()) == sorted(b.first_names.split())
    elif label == "first_name_only":
        assert differing == {"first_names"}
        one, many = sorted((a, b), key=lambda r: len(r.first_names.split()))
        assert one.first_names == many.first_name
    elif label == "used_first_name":
        assert differing == {"first_names"}
        assert a.first_names == b.used_first_name or b.first_names == a.used_first_name
    elif label == "day_month_swap":
        assert differing == {"birth_date"}
        assert (a.birth_date.day, a.birth_date.month) == (b.birth_date.month, b.birth_date.day)
    elif label == "date_digit_slip":
        assert differing == {"birth_date"}
        x, y = a.birth_date.strftime("%d%m%Y"), b.birth_date.strftime("%d%m%Y")
        assert sum(c != d for c, d in zip(x, y, strict=True)) == 1
    elif label == "partial_date_completed":
        assert differing == {"birth_date", "birth_date_completed"}
        done, original = (a, b) if a.birth_date_completed else (b, a)
        assert done.birth_date.year == original.birth_date.year
        assert (done.birth_date.day == 1 and done.birth_date.month in (1, original.birth_date.month)) or (
            (done.birth_date.month, done.birth_date.day) == (12, 31))
        assert detail in ("day_unknown", "day_month_unknown", "legacy_0101")
    elif label == "birth_place":
        assert differing == {"birth_place_code"}
        codes = [a.birth_place_code, b.birth_place_code]
        if None in codes:
            assert detail == "missing"
        else:
            assert detail == "neighbour" and codes[0][:2] == codes[1][:2]
    elif label == "combination":
        parts = detail.split("+")
        assert len(parts) == 2
        assert {p.split(":")[0] for p in parts} <= set(ERROR_WEIGHTS)
        assert differing
    else:
        raise AssertionError(f"unexpected label {label}")


def test_duplicates_differ_as_their_label_says(population: Population) -> None:
    records = _by_id(population)
    seen = Counter()
    for pair in population.truth:
        if pair.kind != DUPLICATE:
            continue
        _check_duplicate(pair.label, pair.detail, records[pair.left_id], records[pair.right_id])
        seen[pair.label] += 1
    assert set(seen) == set(ERROR_WEIGHTS), "every error type is present at this size"


def test_hard_negatives_are_different_persons_that_look_alike(population: Population) -> None:
    records = _by_id(population)
    seen = Counter()
    for pair in population.truth:
        if pair.kind != HARD_NEGATIVE:
            continue
        a, b = records[pair.left_id], records[pair.right_id]
        seen[pair.label] += 1
        if pair.label == "twins":
            assert (a.birth_name, a.birth_date, a.birth_place_code) == (b.birth_name, b.birth_date,
                                                                        b.birth_place_code)
            assert a.first_name != b.first_name
            assert (a.sex == b.sex) == (pair.detail == "same_sex")
        elif pair.label == "homonym":
            assert a.birth_name == b.birth_name and a.first_name == b.first_name and a.sex == b.sex
            assert a.birth_date != b.birth_date or a.birth_place_code != b.birth_place_code
        elif pair.label == "parent_child_same_names":
            assert a.birth_name == b.birth_name and a.first_name == b.first_name and a.sex == b.sex
            assert abs(a.birth_date.year - b.birth_date.year) >= 19
        elif pair.label == "shared_nir":
            assert a.ins_matricule == b.ins_matricule is not None
            assert abs(a.birth_date.year - b.birth_date.year) >= 17
        else:
            raise AssertionError(pair.label)
    assert set(seen) == set(HARD_NEGATIVE_LABELS)


def test_married_women_carry_a_used_name(population: Population) -> None:
    today = population.today
    adult_women = [r for r in population.records if r.sex == "F" and (today - r.birth_date).days > 25 * 365]
    share = sum(r.used_name is not None for r in adult_women) / len(adult_women)
    assert 0.35 < share < 0.55


def test_identity_records_carry_the_traits_fields(population: Population) -> None:
    rows = list(identity_records(population.records[:50]))
    assert len(rows) == 50
    first = rows[0]
    assert set(first) >= {"record_id", "ipp", "birth_name", "first_names", "first_name", "sex", "birth_date",
                          "birth_date_completed", "birth_place_code", "used_name", "ins_matricule"}
    assert date.fromisoformat(first["birth_date"]) == population.records[0].birth_date
    assert first["ipp"] == f"{first['record_id']:010d}"


def test_rank_frequencies_follow_the_tiers() -> None:
    freqs = rank_frequencies((100, 400, 700, 2000), 0.04)
    assert len(freqs) == 2000
    assert abs(sum(freqs) - 1) < 1e-9
    assert all(x >= y for x, y in zip(freqs, freqs[1:], strict=False))
    assert abs(freqs[0] - 0.04) < 1e-3
    # the published tier counts: 500 at the first limit, 100 at the second, 10 at the end
    assert abs(freqs[99] / freqs[399] - 5) < 0.05
    assert abs(freqs[99] / freqs[1999] - 50) < 0.5


def test_typo_is_one_edit_and_phonetic_keeps_the_sound_rules() -> None:
    rng = random.Random(3)
    for name in ("MARTIN", "LEFEBVRE", "DUPONT-MOREAU", "NGUYEN"):
        for _ in range(50):
            made = typo(rng, name)
            if made is not None:
                assert _damerau(made[0], name) == 1
    assert phonetic(random.Random(1), "RENAULT")[0] in ("RENAUD", "RENAUX", "RENAUT", "RENO")
    assert phonetic(random.Random(1), "PHILIPPE")[0] != "PHILIPPE"
    assert phonetic(random.Random(1), "QWX") is None
