"""Identity traits and the RNIV lexical profile.

Strict traits ("traits stricts") are the five INS traits: birth name, list of birth first names,
birth date, sex and birth place, plus the derived first birth first name ("premier prénom").
Complementary traits (used name, used first name) are local.

Entry normalises what is safe (trim, collapse spaces, upper-case, strip diacritics, typographic
apostrophes) and refuses the rest with an error naming the trait and the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date
from enum import StrEnum

from app.domain.dates import BirthDate
from app.domain.errors import InvalidTrait

NAME_MAX_LENGTH = 100

_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"}
_HYPHENS = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-"}
_LIGATURES = {"Œ": "OE", "Æ": "AE", "ß": "SS", "Ĳ": "IJ"}
_ALLOWED = re.compile(r"[A-Z' -]+")
_SEARCH_SEPARATORS = re.compile(r"[\s'-]+")
_COG = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")


class Sex(StrEnum):
    """Administrative sex: INS knows M and F only; U is local (no INSi call possible)."""

    M = "M"
    F = "F"
    U = "U"


class TraitName(StrEnum):
    """Names of the traits as the API and errors show them."""

    BIRTH_NAME = "birth_name"
    FIRST_NAMES = "first_names"
    FIRST_NAME = "first_name"
    USED_NAME = "used_name"
    USED_FIRST_NAME = "used_first_name"
    BIRTH_DATE = "birth_date"
    SEX = "sex"
    BIRTH_PLACE_CODE = "birth_place_code"


STRICT_TRAITS = frozenset(
    {
        TraitName.BIRTH_NAME,
        TraitName.FIRST_NAMES,
        TraitName.FIRST_NAME,
        TraitName.BIRTH_DATE,
        TraitName.SEX,
        TraitName.BIRTH_PLACE_CODE,
    }
)


def normalise_name(value: str, trait: str, *, allow_double_hyphen: bool = True) -> str:
    """Normalise a name-like trait to the INS lexical profile or refuse it (ins-rniv §2)."""
    if not isinstance(value, str):
        raise InvalidTrait("trait-not-text", field=trait)
    text = " ".join(value.split())
    for source, target in {**_APOSTROPHES, **_HYPHENS}.items():
        text = text.replace(source, target)
    text = text.upper()
    for ligature, transliteration in _LIGATURES.items():
        if ligature in text or ligature.lower() in value:
            raise InvalidTrait(
                "trait-ligature", field=trait, char=ligature, suggestion=transliteration
            )
    text = _strip_diacritics(text)
    if not text:
        raise InvalidTrait("trait-empty", field=trait)
    if len(text) > NAME_MAX_LENGTH:
        raise InvalidTrait("trait-too-long", field=trait, max=NAME_MAX_LENGTH)
    _check_profile(text, trait, allow_double_hyphen=allow_double_hyphen)
    return text


def _strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _check_profile(text: str, trait: str, *, allow_double_hyphen: bool) -> None:
    if any(c.isdigit() for c in text):
        raise InvalidTrait("trait-digit", field=trait)
    bad = next((c for c in text if not _ALLOWED.fullmatch(c)), None)
    if bad is not None:
        raise InvalidTrait("trait-forbidden-char", field=trait, char=bad)
    if text[0] in " -'" or text[-1] in " -'":
        raise InvalidTrait("trait-bad-edge", field=trait)
    if "''" in text or "---" in text or (not allow_double_hyphen and "--" in text):
        raise InvalidTrait("trait-doubled-punctuation", field=trait)
    if re.search(r"[ '-]{2,}", text.replace("--", "-")):
        raise InvalidTrait("trait-doubled-punctuation", field=trait)


def normalise_first_names(value: str, trait: str = TraitName.FIRST_NAMES) -> str:
    """Normalise the space-separated list of birth first names (ins-rniv §2)."""
    return normalise_name(value, trait, allow_double_hyphen=False)


def first_name_words(value: str) -> list[str]:
    """Words of a first name or list, "-" and "'" counting as a space (RNIV EXI SI 29/30)."""
    return re.sub(r"[-']", " ", value).split()


def derive_first_name(first_names: str) -> str:
    """The premier prénom is the first word of the list of birth first names (Guide EXI ID 10)."""
    return first_names.split(" ")[0]


def check_first_name(first_name: str, first_names: str) -> None:
    """The premier prénom must be the first word(s) of the list (RNIV EXI SI 29/30, EXI ID 10)."""
    words, listed = first_name_words(first_name), first_name_words(first_names)
    if not words or listed[: len(words)] != words:
        raise InvalidTrait("first-name-not-in-list", field=TraitName.FIRST_NAME)


def normalise_sex(value: str) -> Sex:
    """Sex is M, F or U (HL7 table 0001 subset used by the INS)."""
    text = value.strip().upper() if isinstance(value, str) else ""
    try:
        return Sex(text)
    except ValueError:
        raise InvalidTrait("sex-invalid", field=TraitName.SEX) from None


def normalise_birth_place(value: str, known_codes: Iterable[str] | None = None) -> str:
    """Birth place is an INSEE COG code: 5 chars, 2A/2B for Corsica, 99xxx abroad (ins-rniv §2)."""
    text = value.strip().upper() if isinstance(value, str) else ""
    if not _COG.fullmatch(text):
        raise InvalidTrait("birth-place-shape", field=TraitName.BIRTH_PLACE_CODE)
    if known_codes is not None and text not in set(known_codes):
        raise InvalidTrait("birth-place-unknown", field=TraitName.BIRTH_PLACE_CODE)
    return text


@dataclass(frozen=True, slots=True)
class Traits:
    """The identity traits of one person, already normalised."""

    birth_name: str
    first_names: str
    first_name: str
    sex: Sex
    birth_date: date
    birth_date_completed: bool = False
    birth_place_code: str | None = None
    used_name: str | None = None
    used_first_name: str | None = None

    def strict_differences(self, other: Traits) -> set[str]:
        """Names of the strict traits that differ between two trait sets."""
        return {
            f.name
            for f in fields(self)
            if f.name in STRICT_TRAITS and getattr(self, f.name) != getattr(other, f.name)
        }

    def with_changes(self, **changes: object) -> Traits:
        """A copy with some traits replaced (already normalised)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def shown_used_name(self) -> str | None:
        """The used name as printed next to the birth name: only when it differs from it."""
        return self.used_name if self.used_name and self.used_name != self.birth_name else None



def build_traits(
    *,
    birth_name: str,
    first_names: str,
    birth_date: str | date,
    sex: str,
    today: date,
    first_name: str | None = None,
    birth_place_code: str | None = None,
    used_name: str | None = None,
    used_first_name: str | None = None,
    known_birth_places: Iterable[str] | None = None,
) -> Traits:
    """Validate and normalise raw traits as typed at a desk or received in a message."""
    names = normalise_first_names(first_names)
    if first_name is None or (isinstance(first_name, str) and not first_name.strip()):
        premier = derive_first_name(names)
    else:
        premier = normalise_first_names(first_name, TraitName.FIRST_NAME)
        check_first_name(premier, names)
    parsed = BirthDate.parse(birth_date, today=today)
    return Traits(
        birth_name=normalise_name(birth_name, TraitName.BIRTH_NAME),
        first_names=names,
        first_name=premier,
        sex=normalise_sex(sex),
        birth_date=parsed.value,
        birth_date_completed=parsed.completed,
        birth_place_code=(
            normalise_birth_place(birth_place_code, known_birth_places)
            if birth_place_code not in (None, "")
            else None
        ),
        used_name=_optional_name(used_name, TraitName.USED_NAME),
        used_first_name=_optional_name(used_first_name, TraitName.USED_FIRST_NAME),
    )


def _optional_name(value: str | None, trait: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return normalise_name(value, trait)


def search_key(value: str) -> str:
    """Accent/case-insensitive key used for name searches (also for partial input)."""
    text = _strip_diacritics(" ".join(value.split()).upper())
    for source, target in {**_APOSTROPHES, **_HYPHENS}.items():
        text = text.replace(source, target)
    return text


def name_search_key(value: str) -> str:
    """A name as searched: accents, case, apostrophes, hyphens, spaces ignored (D'ARTAGNAN: DARTAGNAN)."""
    return _SEARCH_SEPARATORS.sub("", search_key(value))


def first_names_search_key(first_names: str, used_first_name: str | None = None) -> str:
    """First names as searched: the list from each of its first names on, then the used first name.

    Each part is a name search key, so that a search matches the start of any first name of the
    list, or several consecutive ones, whatever the separators typed ("JEAN PIERRE", "JEANPIERRE"
    and "JEAN-PIERRE" all find JEAN-PIERRE MARIE; "MARIE" finds it too).
    """
    names = first_names.split()
    parts = ["".join(name_search_key(name) for name in names[index:]) for index in range(len(names))]
    if used_first_name:
        parts.append(name_search_key(used_first_name))
    return " ".join(part for part in parts if part)
