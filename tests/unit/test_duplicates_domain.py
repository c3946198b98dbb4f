"""The pure pieces of duplicate detection: the scan's pair filter and grouping, the strict-trait
digest of a decision, the life cycle of a pair."""

from __future__ import annotations

from datetime import date
from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.duplicates import (
    Blocks,
    PairFilter,
    PairStatus,
    key_hash,
    match_key_hashes,
    may_propose,
    scan_range,
    strict_digest,
)
from app.domain.matching import DEFAULT_MODEL, MatchRecord, blocking_keys, match_score
from tests.unit.test_matching_properties import rec, traits

FILTER = PairFilter()


@st.composite
def close_pairs(draw: st.DrawFn) -> tuple[dict, dict]:
    """Two identities that share most of their traits (the pairs a filter could wrongly skip)."""
    a, other = draw(traits()), draw(traits())
    changed = draw(st.sets(st.sampled_from(sorted(a)), max_size=3))
    return a, {**a, **{name: other[name] for name in changed}}


@given(close_pairs())
def test_the_filter_never_skips_a_pair_the_score_would_propose(pair) -> None:
    first, second = rec(pair[0]), rec(pair[1])
    if match_score(first, second) >= DEFAULT_MODEL.possible:
        assert FILTER.may_match(first, second) and FILTER.may_match(second, first)


@given(traits(), traits(), st.sampled_from(["birth_name", "first_names", "sex", "birth_place_code"]))
def test_the_filter_keeps_every_pair_born_the_same_day(a, other, changed) -> None:
    """The same birth date: scored whatever else differs (the filter only skips what the date rules out)."""
    b = {**a, changed: other[changed], "birth_date_completed": False}
    assert FILTER.may_match(rec({**a, "birth_date_completed": False}), rec(b))


def test_the_filter_keeps_a_date_slip_and_skips_another_date() -> None:
    a = MatchRecord.of(birth_name="MARTIN", first_names="MARIE", birth_date=date(1980, 3, 4), sex="F")
    for born, kept in ((date(1980, 4, 3), True), (date(1980, 3, 5), True), (date(1908, 3, 4), True),
                       (date(1975, 11, 20), False)):
        b = MatchRecord.of(birth_name="MARTIN", first_names="MARIE", birth_date=born, sex="F")
        assert FILTER.may_match(a, b) is kept, born
        assert (match_score(a, b) >= DEFAULT_MODEL.possible) is kept, born


def _record(n: int, name: str, first: str, born: date) -> MatchRecord:
    return MatchRecord.of(birth_name=name, first_names=first, birth_date=born, sex="F", identity_id=n)


def _population() -> list[MatchRecord]:
    names = ["MARTIN", "MARTAIN", "DUPONT", "DUPOND", "LEFEBVRE", "LEFEVRE"]
    firsts = ["MARIE", "MARIE ANNE", "ANNE", "JULIE"]
    records, n = [], 0
    for name in names:
        for first in firsts:
            for born in (date(1980, 3, 4), date(1980, 4, 3), date(1980, 3, 5), date(1981, 3, 4)):
                n += 3  # ids with gaps, in order
                records.append(_record(n, name, first, born))
    return records


def _blocks(records: list[MatchRecord], cap: int = 1000) -> Blocks:
    blocks = Blocks(cap)
    for record in records:
        blocks.add(record)
    blocks.seal()
    return blocks


def test_each_pair_sharing_a_key_is_compared_once() -> None:
    records = _population()
    blocks = _blocks(records)
    seen = [(other, index) for index in range(len(records)) for other in blocks.partners(index)]
    assert len(seen) == len(set(seen))
    expected = {(i, j) for i, j in combinations(range(len(records)), 2)
                if blocking_keys(records[i]) & blocking_keys(records[j])}
    assert set(seen) == expected


def test_a_scan_in_chunks_finds_what_a_scan_in_one_go_finds() -> None:
    blocks = _blocks(_population())
    whole, compared = scan_range(blocks, 0, len(blocks), FILTER)
    parts, counted = [], 0
    start = 0
    while start < len(blocks):  # stopped and resumed after each identity id of a chunk
        resume = blocks.index_after(blocks.records[start - 1].identity_id or 0) if start else 0
        found, n = scan_range(blocks, resume, min(resume + 7, len(blocks)), FILTER)
        parts += found
        counted += n
        start = resume + 7
    assert parts == whole and counted == compared and whole


def test_a_key_over_the_cap_is_not_compared() -> None:
    crowd = [_record(n, "MARTIN", "MARIE", date(1980, 3, 4)) for n in range(1, 6)]
    small = _blocks(crowd, cap=3)
    assert all(not small.partners(i) for i in range(len(crowd)))
    figures = Blocks(3)
    for record in crowd:
        figures.add(record)
    sealed = figures.seal()
    assert sealed.capped_groups == len(blocking_keys(crowd[0])) and sealed.capped_identities == 5
    assert sealed.candidate_pairs == 0
    assert list(_blocks(crowd, cap=5).partners(4)) == [0, 1, 2, 3]


def test_strict_digest_changes_with_a_strict_trait_only() -> None:
    base = {"birth_name": "DURAND", "first_names": "ANNE", "birth_date": date(1970, 1, 2), "sex": "F",
            "birth_place_code": "29019", "used_name": "MARTIN", "identity_id": 1}
    other = MatchRecord.of(birth_name="DURANT", first_names="ANNE", birth_date=date(1970, 1, 2), sex="F",
                           identity_id=2)
    digest = strict_digest(MatchRecord.of(**base), other)
    assert strict_digest(MatchRecord.of(**{**base, "used_name": "DUBOIS", "active_ins": "270012901900135"}),
                         other) == digest
    for changed in ({"birth_name": "DURANT"}, {"first_names": "ANNE MARIE"}, {"birth_date": date(1970, 2, 1)},
                    {"sex": "M"}, {"birth_place_code": "29232"}, {"birth_place_code": None}):
        assert strict_digest(MatchRecord.of(**{**base, **changed}), other) != digest, changed


def test_a_pair_life_cycle() -> None:
    assert may_propose(None, None, "d") and may_propose(PairStatus.OPEN, None, "d")
    assert not may_propose(PairStatus.DISMISSED, "d", "d")
    assert may_propose(PairStatus.DISMISSED, "d", "e")
    assert not may_propose(PairStatus.MERGED, None, "e") and not may_propose(PairStatus.LINKED, None, "e")


def test_stored_keys_are_stable_64_bit_hashes() -> None:
    record = _record(1, "MARTIN", "MARIE", date(1980, 3, 4))
    hashes = match_key_hashes(record)
    assert len(hashes) == len(blocking_keys(record))
    assert all(-(2 ** 63) <= h < 2 ** 63 for h in hashes)
    assert key_hash("nd:MRTN:1980-03-04") == key_hash("nd:MRTN:1980-03-04") != key_hash("nd:MRTN:1980-04-03")


def test_which_changes_the_detection_job_hears() -> None:
    """Created, traits, INS (an INSi retrieval accepted), attributes, merged: queued; a status or a
    document alone: not."""
    from dataclasses import replace

    from app.db.duplicates import matters
    from app.domain.identity import Identity, IdentityChange
    from app.domain.ins import OID_NIR, Ins, InsRecord
    from app.domain.roles import Actor
    from app.domain.status import Attribute, IdentityState
    from app.domain.traits import Sex, Traits

    desk = Actor("agent", frozenset({"admission"}))
    traits = Traits("DURAND", "ANNE", "ANNE", Sex.F, date(1970, 1, 2))
    before = Identity(1, "IPP1", traits, IdentityState(), 1)
    ins = (InsRecord(Ins("270012901900135", OID_NIR), True, "INSI"),)
    heard = [
        IdentityChange(before, None, "created", desk),
        IdentityChange(replace(before, traits=replace(traits, birth_name="DURANT")), before, "updated", desk),
        IdentityChange(replace(before, ins_records=ins, state=IdentityState(insi=True)), before,
                       "insi_retrieved", desk),
        IdentityChange(replace(before, state=IdentityState(attributes=frozenset({Attribute.HOMA}))), before,
                       "attribute_set", desk),
        IdentityChange(replace(before, active=False, merged_into=2), before, "merged", desk),
    ]
    assert all(matters(change) for change in heard)
    assert not matters(IdentityChange(replace(before, state=IdentityState(document=True)), before,
                                      "document_checked", desk))
