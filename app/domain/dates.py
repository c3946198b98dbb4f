"""Birth dates: full or partial input, completed per RNIV and flagged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from app.domain.errors import InvalidTrait

EARLIEST_BIRTH_YEAR = 1850
_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_FIELD = "birth_date"


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A birth date as stored, and whether RNIV completion made part of it up."""

    value: date
    completed: bool

    @classmethod
    def parse(cls, raw: str | date, *, today: date) -> BirthDate:
        """Parse YYYY-MM-DD, YYYY-MM or YYYY (00 for an unknown part) (Guide EXI ID 11/12, RNIV EXI PP 19)."""
        if isinstance(raw, date):
            return cls._checked(raw, False, today)
        if not isinstance(raw, str):
            raise InvalidTrait("birth-date-format", field=_FIELD)
        match = _PATTERN.fullmatch(raw.strip())
        if match is None:
            raise InvalidTrait("birth-date-format", field=_FIELD)
        year = int(match.group(1))
        month = int(match.group(2) or 0)
        day = int(match.group(3) or 0)
        value, completed = complete_partial_date(year, month, day)
        return cls._checked(value, completed, today)

    @staticmethod
    def _checked(value: date, completed: bool, today: date) -> BirthDate:
        if value.year < EARLIEST_BIRTH_YEAR:
            raise InvalidTrait("birth-date-too-old", field=_FIELD, year=EARLIEST_BIRTH_YEAR)
        if value > today:
            raise InvalidTrait("birth-date-future", field=_FIELD)
        return BirthDate(value, completed)


def complete_partial_date(year: int, month: int, day: int) -> tuple[date, bool]:
    """Unknown day -> 01, unknown month -> 01, both unknown -> 31/12 (RNIV EXI PP 19)."""
    if month == 0 and day == 0:
        return _make(year, 12, 31), True
    completed = month == 0 or day == 0
    return _make(year, month or 1, day or 1), completed


def _make(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidTrait("birth-date-invalid", field=_FIELD) from None
