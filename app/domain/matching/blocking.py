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

from app.domain.matching.record import MatchRecord


def blocking_keys(record: MatchRecord) -> frozenset[str]:
    """The blocking keys of a record. They carry birth dates and INS: keep them out of logs."""
    return frozenset(blocking_key_set(record))


def blocking_key_set(record: MatchRecord) -> set[str]:
    """``blocking_keys`` as a new set (a scan groups a million records by them: no frozen copy)."""
    born = record.birth_date
    iso = born.isoformat()
    first = record.first_names.first_code
    birth = record.birth_name
    codes = birth.phonetic_variants | birth.token_codes
    if record.used_name is not None:
        codes |= record.used_name.phonetic_variants | record.used_name.token_codes
    keys = {f"nd:{code}:{iso}" for code in codes}
    phonetic = birth.phonetic
    if phonetic:
        keys.add(f"ny:{phonetic}:{born.year}")
        if first:
            keys.add(f"nf:{phonetic}:{first}")
    if first:
        keys.add(f"df:{iso}:{first}")
    for matricule in record.ins:
        keys.add(f"ins:{matricule}")
    return keys
