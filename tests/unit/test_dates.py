"""Birth dates: partial input completed per RNIV and flagged; future and pre-1850 refused."""

from datetime import date

import pytest

from app.domain.dates import BirthDate
from app.domain.errors import InvalidTrait

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("raw", "value", "completed"),
    [
        ("1980-05-17", date(1980, 5, 17), False),
        ("1980-05", date(1980, 5, 1), True),
        ("1980", date(1980, 12, 31), True),
        ("1980-00-17", date(1980, 1, 17), True),
        ("1980-05-00", date(1980, 5, 1), True),
        ("1980-00-00", date(1980, 12, 31), True),
        (" 1850-01-01 ", date(1850, 1, 1), False),
    ],
)
def test_partial_dates_are_completed_and_flagged(raw: str, value: date, completed: bool) -> None:
    parsed = BirthDate.parse(raw, today=TODAY)
    assert parsed == BirthDate(value, completed)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1849-12-31", "birth-date-too-old"),
        ("2026-11-25", "birth-date-future"),
        ("2026", "birth-date-future"),
        ("1980-02-30", "birth-date-invalid"),
        ("1980-13", "birth-date-invalid"),
        ("17/05/1980", "birth-date-format"),
        ("80-05-17", "birth-date-format"),
        ("", "birth-date-format"),
    ],
)
def test_bad_dates_are_refused(raw: str, code: str) -> None:
    with pytest.raises(InvalidTrait) as info:
        BirthDate.parse(raw, today=TODAY)
    assert info.value.code == code
    assert info.value.field == "birth_date"


def test_today_is_accepted() -> None:
    assert BirthDate.parse("2026-11-24", today=TODAY).value == TODAY
