"""RNIV lexical profile of traits: what is normalised, what is refused and why."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import InvalidTrait
from app.domain.traits import (
    Sex,
    build_traits,
    check_first_name,
    normalise_birth_place,
    normalise_first_names,
    normalise_name,
    normalise_sex,
    search_key,
)

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  dupont  ", "DUPONT"),
        ("Hélène", "HELENE"),
        ("d’Artagnan  de l'Hérault", "D'ARTAGNAN DE L'HERAULT"),
        ("Müller–Lüdenscheidt", "MULLER-LUDENSCHEIDT"),
        ("garcia--hammadi", "GARCIA--HAMMADI"),
        ("ÇA", "CA"),
    ],
)
def test_safe_normalisation(raw: str, expected: str) -> None:
    assert normalise_name(raw, "birth_name") == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Œdipe", "trait-ligature"),
        ("cœur", "trait-ligature"),
        ("Ærø", "trait-ligature"),
        ("Dupont2", "trait-digit"),
        ("Du@pont", "trait-forbidden-char"),
        ("Dupont.", "trait-forbidden-char"),
        ("-Dupont", "trait-bad-edge"),
        ("Dupont'", "trait-bad-edge"),
        ("Du''pont", "trait-doubled-punctuation"),
        ("Du---pont", "trait-doubled-punctuation"),
        ("Du- pont", "trait-doubled-punctuation"),
        ("   ", "trait-empty"),
        ("A" * 101, "trait-too-long"),
    ],
)
def test_refused_names_say_which_trait_and_why(raw: str, code: str) -> None:
    with pytest.raises(InvalidTrait) as info:
        normalise_name(raw, "birth_name")
    assert info.value.code == code
    assert info.value.field == "birth_name"
    assert "birth name" in info.value.message("en").lower()
    assert "nom de naissance" in info.value.message("fr").lower()


def test_double_hyphen_allowed_in_names_not_in_first_names() -> None:
    assert normalise_name("A--B", "birth_name") == "A--B"
    with pytest.raises(InvalidTrait):
        normalise_first_names("JEAN--PAUL")


@pytest.mark.parametrize(
    ("first_name", "names", "ok"),
    [
        ("JEAN-CHRISTOPHE", "JEAN CHRISTOPHE PIERRE", True),
        ("JEAN", "JEAN-CHRISTOPHE PIERRE", True),
        ("JEAN CHRISTOPHE", "JEAN-CHRISTOPHE", True),
        ("CHRISTOPHE", "JEAN CHRISTOPHE PIERRE", False),
        ("PIERRE", "JEAN CHRISTOPHE PIERRE", False),
        ("JEANNE", "JEAN", False),
    ],
)
def test_first_name_is_first_words_of_the_list(first_name: str, names: str, ok: bool) -> None:
    if ok:
        check_first_name(first_name, names)
    else:
        with pytest.raises(InvalidTrait):
            check_first_name(first_name, names)


def test_first_name_derived_when_absent() -> None:
    traits = build_traits(birth_name="x", first_names="pierre-alain gunther", birth_date="2001-06-17",
                          sex="M", today=TODAY)
    assert traits.first_name == "PIERRE-ALAIN"
    assert traits.first_names == "PIERRE-ALAIN GUNTHER"


@pytest.mark.parametrize("code", ["63220", "2A020", "2B033", "99255", " 2a004 "])
def test_birth_place_shapes(code: str) -> None:
    assert normalise_birth_place(code) == code.strip().upper()


@pytest.mark.parametrize("code", ["6322", "632200", "2C020", "ABCDE", "", "3A001"])
def test_birth_place_bad_shapes(code: str) -> None:
    with pytest.raises(InvalidTrait) as info:
        normalise_birth_place(code)
    assert info.value.field == "birth_place_code"


def test_birth_place_configured_list() -> None:
    assert normalise_birth_place("63220", {"63220"}) == "63220"
    with pytest.raises(InvalidTrait):
        normalise_birth_place("63113", {"63220"})


def test_sex() -> None:
    assert normalise_sex("f") is Sex.F
    assert normalise_sex("U") is Sex.U
    with pytest.raises(InvalidTrait):
        normalise_sex("X")


@given(st.text(max_size=120))
def test_normalisation_never_crashes_and_output_fits_profile(raw: str) -> None:
    try:
        value = normalise_name(raw, "birth_name")
    except InvalidTrait:
        return
    assert value == value.strip() and value.upper() == value
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ '-")
    assert "  " not in value and "''" not in value and "---" not in value
    assert normalise_name(value, "birth_name") == value  # idempotent


@given(st.text(alphabet="abcdeéèàçôîABC '-", min_size=1, max_size=40))
def test_search_key_matches_normalised_form(raw: str) -> None:
    try:
        value = normalise_name(raw, "birth_name")
    except InvalidTrait:
        return
    assert search_key(raw) == value
