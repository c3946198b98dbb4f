"""DataMatrix INS payload: builder and parser (datamatrix-ins.md)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.datamatrix import (
    FIELD_LENGTHS,
    GS,
    HEADER,
    InsPayload,
    InvalidPayload,
    build_payload,
    parse_payload,
    show_separators,
)
from app.domain.traits import Sex
from tests.strategies_ins import payloads

SPEC_EXAMPLE = (
    "IS010000000000000000000000S1277010115400329S21.2.250.1.213.1.4.8<GS>S3SARAH-LOU ANNA<GS>"
    "S4GARCIA-HAMMADI<GS>S5FS621-01-1977S701154"
)
SARAH = InsPayload(
    "277010115400329",
    "1.2.250.1.213.1.4.8",
    "SARAH-LOU ANNA",
    "GARCIA-HAMMADI",
    Sex.F,
    date(1977, 1, 21),
    "01154",
)


def serialise(fields: dict[str, str], order: list[str]) -> str:
    """Another emitter: the same separator rule, in any field order."""
    out = HEADER
    for index, key in enumerate(order):
        low, high = FIELD_LENGTHS[key]
        out += key + fields[key]
        if low != high and len(fields[key]) < high and index < len(order) - 1:
            out += GS
    return out


def fields_of(payload: InsPayload) -> dict[str, str]:
    values = {
        "S1": payload.matricule,
        "S2": payload.oid,
        "S3": payload.first_names,
        "S4": payload.birth_name,
        "S5": payload.sex.value,
        "S6": payload.birth_date.strftime("%d-%m-") + f"{payload.birth_date.year:04d}",
    }
    if payload.birth_place_code:
        values["S7"] = payload.birth_place_code
    return values


def test_spec_example_is_built_exactly():
    assert show_separators(build_payload(SARAH)) == SPEC_EXAMPLE


def test_header_is_26_characters():
    assert len(HEADER) == 26 and build_payload(SARAH).startswith("IS01" + "0" * 22 + "S1")


@given(payloads())
def test_build_then_parse_is_identity(payload):
    assert parse_payload(build_payload(payload)) == payload


@given(payloads(), st.randoms())
def test_any_field_order_parses(payload, rnd):
    fields = fields_of(payload)
    order = list(fields)
    rnd.shuffle(order)
    assert parse_payload(serialise(fields, order)) == payload


def test_no_separator_after_last_field_nor_after_fixed_fields():
    text = build_payload(SARAH)
    assert not text.endswith(GS)
    assert "S1277010115400329S2" in text and "S5FS6" in text and "S621-01-1977S7" in text


def test_last_variable_field_without_s7_has_no_separator():
    payload = InsPayload(
        SARAH.matricule, SARAH.oid, SARAH.first_names, SARAH.birth_name, Sex.F, SARAH.birth_date
    )
    text = build_payload(payload)
    assert text.endswith("S621-01-1977") and parse_payload(text) == payload


def test_name_at_maximum_length_is_followed_directly_by_next_field():
    name = ("A" * 49 + " ") * 2
    name = name[:99] + "B"
    payload = InsPayload(SARAH.matricule, SARAH.oid, "JEAN", name, Sex.M, date(2000, 2, 29))
    text = build_payload(payload)
    assert "S4" + name + "S5M" in text
    assert parse_payload(text) == payload


def test_twenty_character_oid_is_not_followed_by_separator():
    payload = InsPayload(SARAH.matricule, "1.2.250.1.213.1.4.10", "JEAN", "DUPONT", Sex.M, date(1980, 5, 1))
    assert "S21.2.250.1.213.1.4.10S3JEAN" in build_payload(payload)


def test_reader_tolerates_separator_after_fixed_field():
    text = build_payload(SARAH).replace("S5F", "S5F" + GS)
    assert parse_payload(text) == SARAH


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "header"),
        ("IS02" + "0" * 22 + "S1277010115400329", "header"),
        (HEADER + "S1277010115400329", "missing"),
        (build_payload(SARAH).replace("S621-01-1977", "S61977-01-21"), "DD-MM-YYYY"),
        (build_payload(SARAH).replace("S621-01-1977", "S631-02-1977"), "does not exist"),
        (build_payload(SARAH).replace("S5F", "S5U"), "M or F"),
        (build_payload(SARAH).replace("329S2", "328S2"), "key of the matricule INS is wrong"),
        (build_payload(SARAH).replace("1.4.8", "1.4.2"), "INS-C (computed INS) is obsolete"),
        (build_payload(SARAH).replace("SARAH-LOU", "Sarah-Lou"), "lexical profile"),
        (build_payload(SARAH) + "S5F", "repeated"),
        (build_payload(SARAH) + "X9", "unknown field"),
    ],
)
def test_invalid_payloads_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidPayload) as caught:
        parse_payload(text)
    assert reason in str(caught.value)


def test_builder_refuses_unknown_sex_and_unnormalised_names():
    with pytest.raises(InvalidPayload):
        build_payload(InsPayload(SARAH.matricule, SARAH.oid, "JEAN", "DUPONT", Sex.U, date(1980, 1, 1)))
    with pytest.raises(InvalidPayload):
        build_payload(InsPayload(SARAH.matricule, SARAH.oid, "Jéan", "DUPONT", Sex.M, date(1980, 1, 1)))


def test_differences_name_the_traits_that_differ():
    from app.domain.traits import build_traits

    traits = build_traits(
        birth_name="GARCIA-HAMMADI",
        first_names="SARAH-LOU ANNA",
        birth_date="1977-01-21",
        sex="F",
        birth_place_code="01154",
        today=date(2026, 1, 1),
    )
    assert SARAH.differences(traits) == []
    assert SARAH.differences(traits.with_changes(birth_name="GARCIA")) == ["birth_name"]
