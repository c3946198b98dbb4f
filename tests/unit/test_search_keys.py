"""Search keys and searched birth dates: what a desk types finds what creation stored."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.dates import BirthDate, DateRange, birth_date_search
from app.domain.errors import InvalidTrait
from app.domain.traits import first_names_search_key, name_search_key, normalise_first_names, normalise_name

TODAY = date(2026, 11, 30)


def _matches(ranges: tuple[DateRange, ...], stored: BirthDate) -> bool:
    return any(r.start <= stored.value <= r.end and (stored.completed or not r.completed_only)
               for r in ranges)


@given(st.text(alphabet="abcdeéèàçôîABC '-\u2019\u2011", min_size=1, max_size=40))
def test_a_name_typed_as_at_creation_has_the_stored_key(raw: str) -> None:
    try:
        stored = normalise_name(raw, "birth_name")
    except InvalidTrait:
        return
    assert name_search_key(raw) == name_search_key(stored)
    assert set(name_search_key(stored)) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_first_names_key_lists_the_names_from_each_one_on() -> None:
    names = normalise_first_names("Jean-Pierre Marie d'Arc")
    assert first_names_search_key(names, "J-P") == "JEANPIERREMARIEDARC MARIEDARC DARC JP"
    assert first_names_search_key("ANNE") == "ANNE"


@given(st.dates(min_value=date(1850, 1, 1), max_value=TODAY), st.integers(0, 2))
def test_every_date_a_partial_birth_date_may_be_finds_it(real: date, known: int) -> None:
    # known: 0 = year only, 1 = year and month, 2 = year and day (month unknown)
    typed = [f"{real.year}", f"{real.year}-{real.month:02d}", f"{real.year}-00-{real.day:02d}"][known]
    stored = BirthDate.parse(typed, today=date(2100, 1, 1))  # this year's "YYYY" is completed to 31/12

    assert _matches(birth_date_search(real.isoformat()), stored)
    assert _matches(birth_date_search(f"{real.year}-{real.month:02d}"), stored)
    assert _matches(birth_date_search(f"{real.year}"), stored)


@given(st.dates(min_value=date(1850, 1, 1), max_value=TODAY), st.dates(min_value=date(1850, 1, 1),
                                                                        max_value=TODAY))
def test_a_full_date_searched_finds_only_that_day_among_full_dates(searched: date, stored: date) -> None:
    found = _matches(birth_date_search(searched.isoformat()), BirthDate(stored, False))
    assert found == (searched == stored)


@given(st.dates(min_value=date(1850, 1, 1), max_value=TODAY))
def test_a_month_searched_finds_the_full_dates_in_it(stored: date) -> None:
    month = f"{stored.year}-{stored.month:02d}"
    other = f"{stored.year}-{stored.month % 12 + 1:02d}"
    assert _matches(birth_date_search(month), BirthDate(stored, False))
    assert not _matches(birth_date_search(other), BirthDate(stored, False))


@pytest.mark.parametrize("typed", ["1988-5", "88", "1988-05-17T00:00", "1988-13", "1988-02-30"])
def test_a_searched_date_is_refused_as_at_creation(typed: str) -> None:
    with pytest.raises(InvalidTrait) as caught:
        birth_date_search(typed)
    assert caught.value.field == "birth_date"
