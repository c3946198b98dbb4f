"""Birth dates: full or partial input, completed per RNIV and flagged."""

from __future__ import annotations

import calendar
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


@dataclass(frozen=True, slots=True)
class DateRange:
    """Stored birth dates from start to end (inclusive); only completed ones when completed_only."""

    start: date
    end: date
    completed_only: bool = False


def birth_date_search(raw: str) -> tuple[DateRange, ...]:
    """The stored birth dates a searched date may be (RNIV EXI PP 19 completion, searched back).

    The search takes what creation takes: YYYY-MM-DD, YYYY-MM or YYYY (00 for an unknown part).
    A day, month or year matches the stored dates in it, and also the dates completed from a
    partial date that may be in it: a known year alone was stored as 31/12 of that year, a known
    month without its day as the 1st of that month, a known day without its month as that day of
    January.
    """
    match = _PATTERN.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise InvalidTrait("birth-date-format", field=_FIELD)
    year, month, day = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    if month == 0:  # a year (a day without its month narrows nothing down)
        return (DateRange(_make(year, 1, 1), _make(year, 12, 31)),)
    first = _make(year, month, 1)
    last = _make(year, month, calendar.monthrange(year, month)[1])
    searched = DateRange(first, last)
    if day:
        searched = DateRange(_make(year, month, day), _make(year, month, day))
    completed = [
        DateRange(_make(year, 12, 31), _make(year, 12, 31), completed_only=True),  # year known
        DateRange(first, first, completed_only=True),  # month known
        # day known, month not: that day of January (any day of the month for a month search)
        DateRange(_make(year, 1, day or 1), _make(year, 1, day or last.day), completed_only=True),
    ]
    inside = [r for r in completed if not searched.start <= r.start <= r.end <= searched.end]
    return (searched, *inside)
