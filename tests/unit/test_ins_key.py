"""Matricule INS: NIR/NIA key mod 97 with Corsica, and the known OIDs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import InvalidMatricule
from app.domain.ins import (
    OID_INS_C,
    OID_NIA,
    OID_NIR,
    OID_NIR_TEST,
    Ins,
    Nature,
    Usage,
    check_matricule,
    nir_key,
)


@pytest.mark.parametrize(
    ("nir", "key"), [("2751263220749", 74), ("297022A020778", 78), ("160012B020777", 13)]
)
def test_known_good_keys(nir: str, key: int) -> None:
    assert nir_key(nir) == key
    assert check_matricule(f"{nir}{key:02d}") == f"{nir}{key:02d}"


def test_corsica_letters_are_read_as_19_and_18() -> None:
    assert nir_key("297022A020778") == 97 - int("2970219020778") % 97
    assert nir_key("160012B020777") == 97 - int("1600118020777") % 97


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("275126322074", "matricule-length"),
        ("2751263220749744", "matricule-length"),
        ("575126322074974", "matricule-shape"),
        ("2751263A2074974", "matricule-shape"),
        ("27512632207497X", "matricule-shape"),
        ("275126322074975", "matricule-key"),
    ],
)
def test_bad_matricules(value: str, code: str) -> None:
    with pytest.raises(InvalidMatricule) as info:
        check_matricule(value)
    assert info.value.code == code


def test_wrong_key_is_refused() -> None:
    with pytest.raises(InvalidMatricule) as info:
        check_matricule("275126322074975")
    assert info.value.code == "matricule-key"


def test_oids() -> None:
    assert Ins.of("275126322074974", OID_NIR).nature is Nature.NIR
    assert Ins.of("275126322074974", OID_NIA).nature is Nature.NIA
    assert Ins.of("275126322074974", OID_NIR_TEST).usage is Usage.TEST
    with pytest.raises(InvalidMatricule):
        Ins.of("275126322074974", OID_INS_C)
    with pytest.raises(InvalidMatricule):
        Ins.of("275126322074974", "1.2.3")


nir13 = st.builds(
    lambda sex, year, month, dept, commune, order: (
        f"{sex}{year:02d}{month:02d}{dept}{commune:03d}{order:03d}"
    ),
    st.sampled_from("123478"),
    st.integers(0, 99),
    st.integers(1, 12),
    st.one_of(st.integers(1, 95).map(lambda d: f"{d:02d}"), st.sampled_from(["2A", "2B"])),
    st.integers(1, 999),
    st.integers(1, 999),
)


@given(nir13)
def test_computed_key_always_validates(nir: str) -> None:
    key = nir_key(nir)
    assert 1 <= key <= 97
    assert check_matricule(f"{nir}{key:02d}")


@given(nir13, st.integers(0, 99))
def test_any_other_key_is_refused(nir: str, key: int) -> None:
    if key == nir_key(nir):
        return
    with pytest.raises(InvalidMatricule):
        check_matricule(f"{nir}{key:02d}")


@given(nir13, st.integers(0, 12), st.sampled_from("0123456789"))
def test_a_single_digit_typo_is_caught(nir: str, position: int, digit: str) -> None:
    if not nir[position].isdigit() or nir[position] == digit:
        return
    typo = nir[:position] + digit + nir[position + 1:]
    if typo[5:7] in {"2A", "2B"} or nir[5:7] in {"2A", "2B"}:
        return
    with pytest.raises(InvalidMatricule):
        check_matricule(f"{typo}{nir_key(nir):02d}")
