"""Name features computed once per distinct name: words, particles, joined forms, phonetic codes.

A name of the RNIV lexical profile is split into words on spaces, hyphens and apostrophes
(D'ARTAGNAN: D, ARTAGNAN). Leading particles (DE, D', LE, LA, DU, DES, DI, VAN, ...) may be lost or
glued at the desk, so a name also stands for its forms without them (DE LA FONTAINE: DELAFONTAINE,
LAFONTAINE, FONTAINE). The features are cached by name: a repository holds far fewer distinct names
than identities, and a pair comparison then only compares prepared values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from app.domain.matching.phonex import phonex, upper_ascii

#: Particles of French (and neighbouring) surnames that are dropped, glued or split at the desk.
PARTICLES = frozenset(
    {"D", "DE", "DES", "DU", "L", "LE", "LA", "LES", "DI", "DA", "DAL", "DEL", "DELLA", "DELLE",
     "DOS", "DAS", "VAN", "VON", "DER", "DEN", "TER", "TEN", "VANDER", "VANDEN", "ZU"}
)

_WORD_SEPARATORS = re.compile(r"[^A-Z]+")
_CACHE = 1 << 18


def words_of(value: str) -> tuple[str, ...]:
    """The words of a name: letters only, hyphens, apostrophes and spaces separate (RNIV EXI SI 29/30)."""
    return tuple(filter(None, _WORD_SEPARATORS.split(upper_ascii(value))))


def within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein (optimal string alignment) distance of at most 1.

    One character substituted, inserted, deleted, or two adjacent characters transposed; linear
    time, which is what a pair comparison can afford.
    """
    la, lb = len(a), len(b)
    if la > lb:
        a, b, la, lb = b, a, lb, la
    if lb - la > 1:
        return False
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if i == la:
        return True  # equal, or b has one more character at the end
    if la == lb:
        if a[i + 1:] == b[i + 1:]:
            return True  # one substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    return a[i:] == b[i + 1:]  # one insertion in b


def sound_code(word: str) -> str:
    """Phonex of a word, or the word itself when Phonex leaves nothing of it (T, X, H...)."""
    return phonex(word) or word


@dataclass(frozen=True, slots=True)
class NameKey:
    """Features of a family name (birth or used name)."""

    text: str
    compact: str  # letters only: LE GALL and LEGALL agree
    variants: frozenset[str]  # compact forms without 0..n leading particles
    tokens: frozenset[str]  # words that are not particles
    sorted_tokens: tuple[str, ...]
    phonetic: str  # Phonex of the compact form (``sound_code``)
    phonetic_variants: frozenset[str]
    token_codes: frozenset[str]  # Phonex of each non-particle word (for blocking)


@lru_cache(maxsize=_CACHE)
def name_key(value: str) -> NameKey:
    """The features of a family name, computed once per distinct name."""
    words = words_of(value)
    compact = "".join(words)
    leading = 0
    while leading < len(words) - 1 and words[leading] in PARTICLES:
        leading += 1
    variants = frozenset("".join(words[i:]) for i in range(leading + 1))
    tokens = frozenset(w for w in words if w not in PARTICLES) or frozenset(words)
    return NameKey(
        text=value,
        compact=compact,
        variants=variants,
        tokens=tokens,
        sorted_tokens=tuple(sorted(tokens)),
        phonetic=sound_code(compact),
        phonetic_variants=frozenset(sound_code(v) for v in variants) - {""},
        token_codes=frozenset(sound_code(t) for t in tokens) - {""},
    )


@dataclass(frozen=True, slots=True)
class FirstNamesKey:
    """Features of the list of birth first names and of the used first name."""

    text: str
    words: tuple[str, ...]  # JEAN-PIERRE MARIE: JEAN, PIERRE, MARIE
    compact: str
    word_set: frozenset[str]
    sorted_words: tuple[str, ...]
    codes: tuple[str, ...]  # Phonex of each word (``sound_code``)
    used: str | None  # used first name, compact
    names: frozenset[str]  # the words and the compact form, to meet a used first name

    @property
    def first_code(self) -> str:
        """Phonex of the first word (the premier prénom, or its first part)."""
        return self.codes[0] if self.codes else ""


@lru_cache(maxsize=_CACHE)
def first_names_key(first_names: str, used_first_name: str | None = None) -> FirstNamesKey:
    """The features of a list of first names, computed once per distinct list."""
    words = words_of(first_names)
    compact = "".join(words)
    used = "".join(words_of(used_first_name)) if used_first_name else ""
    word_set = frozenset(words)
    return FirstNamesKey(
        text=first_names,
        words=words,
        compact=compact,
        word_set=word_set,
        sorted_words=tuple(sorted(words)),
        codes=tuple([sound_code(w) for w in words]),
        used=used or None,
        names=word_set | {compact},
    )
