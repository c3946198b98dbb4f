"""Blocking keys: which pairs a full scan compares at all.

Comparing every pair of a million identities is 5 x 10^11 comparisons; a scan compares only the
records that share a blocking key. Each key combines two traits, so that a record with one French
identity error still shares a key with the right one:

========================  ===========================================================================
key                       still meets the right record when ...
========================  ===========================================================================
``nd:<name>:<date>``      ... the first names are wrong, the sex or the place; ``<name>`` is the Phonex
                          code of the birth name *and* of the used name, of each form without leading
                          particles and of each part of a compound name, so a married name typed as
                          birth name, a lost particle or one part of a compound name meet too
``ny:<name>:<year>``      ... the first names are wrong, or the date has a day/month swap, a slip in
                          the day or month, or was completed from a partial date
``nf:<name>:<first>``     ... the date is wrong in any way (a slip in the year included)
``df:<date>:<first>``     ... the birth name is wrong in any way (typo, another name)
``ins:<matricule>``       ... the INS is the same, active or in history
========================  ===========================================================================

``<first>`` is the Phonex code of the first birth first name. A pair with two errors (a name typo
*and* a year slip) may share no key: that is the price of a scan in minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from app.domain.matching.record import MatchRecord
from app.domain.matching.text import NameKey


def blocking_keys(record: MatchRecord) -> frozenset[str]:
    """The blocking keys of a record. They carry birth dates and INS: keep them out of logs."""
    return frozenset(blocking_key_set(record))


def blocking_key_set(record: MatchRecord) -> set[str]:
    """``blocking_keys`` as a new set (a scan groups a million records by them: no frozen copy)."""
    birth, used, born = record.birth_name, record.used_name, record.birth_date
    codes = _codes(birth) if used is None else _codes(birth) | _codes(used)
    return _key_set(codes, birth.phonetic, born.isoformat(), born.year, record.first_names.first_code,
                    record.ins)


#: What ``KeyMaker`` makes the keys of one record from: its birth name and used name (numbers of
#: names already sent; -1: none), the Phonex of its first birth first name, its birth date (proleptic
#: ordinal) and its INS matricules.
KeyInputs = tuple[int, int, str, int, tuple[str, ...]]
#: A name's Phonex code, then its codes of ``nd`` keys (``KeyMaker.names``).
NameCodes = tuple[str, ...]


class KeySource:
    """Turns pages of records into the few plain values a ``KeyMaker`` (in a scan's other process)
    makes their blocking keys from, cheap to send: each name's codes once, then its number."""

    __slots__ = ("_names",)

    def __init__(self) -> None:
        self._names: dict[str, int] = {}

    def page(self, records: Iterable[MatchRecord]) -> tuple[list[NameCodes], list[KeyInputs]]:
        """The names not sent yet (numbered on from the last) and the inputs of each record."""
        names = self._names
        new: list[NameCodes] = []
        inputs: list[KeyInputs] = []
        for record in records:
            birth, used = record.birth_name, record.used_name
            low = names.get(birth.text)
            if low is None:
                low = names[birth.text] = len(names)
                new.append((birth.phonetic, *_codes(birth)))
            other = -1
            if used is not None:
                found = names.get(used.text)
                if found is None:
                    found = names[used.text] = len(names)
                    new.append((used.phonetic, *_codes(used)))
                other = found
            inputs.append((low, other, record.first_names.first_code, record.birth_date.toordinal(),
                           tuple(record.ins) if record.ins else ()))
        return new, inputs


class KeyMaker:
    """The blocking keys of records from what a ``KeySource`` sent: ``blocking_key_set`` of each."""

    __slots__ = ("_dates", "_names")

    def __init__(self) -> None:
        self._names: list[tuple[frozenset[str], str]] = []
        self._dates: dict[int, tuple[str, int]] = {}

    def names(self, new: Iterable[NameCodes]) -> None:
        """The names sent with a page, in their order."""
        self._names += [(frozenset(codes[1:]), codes[0]) for codes in new]

    def keys(self, inputs: KeyInputs) -> set[str]:
        """The blocking keys of the record these inputs come from."""
        birth, used, first, ordinal, ins = inputs
        codes, phonetic = self._names[birth]
        if used >= 0:
            codes = codes | self._names[used][0]
        born = self._dates.get(ordinal)
        if born is None:
            day = date.fromordinal(ordinal)
            born = self._dates[ordinal] = (day.isoformat(), day.year)
        return _key_set(codes, phonetic, born[0], born[1], first, ins)


def _codes(name: NameKey) -> frozenset[str]:
    """The name's part of its ``nd`` keys."""
    return name.phonetic_variants | name.token_codes


def _key_set(
    codes: frozenset[str], phonetic: str, iso: str, year: int, first: str, ins: Iterable[str]
) -> set[str]:
    keys = {f"nd:{code}:{iso}" for code in codes}
    if phonetic:
        keys.add(f"ny:{phonetic}:{year}")
        if first:
            keys.add(f"nf:{phonetic}:{first}")
    if first:
        keys.add(f"df:{iso}:{first}")
    for matricule in ins:
        keys.add(f"ins:{matricule}")
    return keys

