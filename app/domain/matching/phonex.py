"""Phonex, a French phonetic key, implemented by the project from its published description.

Source: Frédéric Brouard, "L'algorithme PHONEX" (31 March 1999), published in his course on
phonetic search, https://sqlpro.developpez.com/cours/soundex/ . Only the published list of steps
was used; no existing implementation was copied (several are GPL).

Why Phonex rather than Soundex2 FR or Sonnex:

- Phonex was designed for French *names* (Soundex2 FR, by the same author, keeps four consonant
  letters and drops all vowels but the first, so DUPONT, DUPUIS and DUPAS share a key), and it
  keeps the vowel sounds that tell French names apart (an/in/on/ou, é).
- It is a fixed list of 16 rewriting steps plus an encoding, so it can be implemented from the text
  alone; Sonnex is described by its source code (in a GPL project) rather than by a publication.
- Its output is short (never longer than the input) and made of 22 symbols, fit for an index key.

The published algorithm ends (steps 17-18) by reading the code as a base-22 fraction, a float.
That float is a positional encoding of the step-16 code and loses its tail beyond about eleven
symbols in double precision, so the key used here is the step-16 code itself: equal floats come
from equal codes, and the code is readable in tests and logs of keys (never of names).

Reading of the description where it is ambiguous (each choice written at its step):

- Input is a name of the RNIV lexical profile (upper case, no diacritics); case, diacritics,
  ligatures and every non-letter are folded first, and words are joined, so that the key ignores
  spaces, hyphens and apostrophes. The accented É/È/Ê of step 7 are therefore already E.
- Step 2 removes every H not preceded by C, S or P, an initial H included (nothing precedes it).
- Step 8 ("unless followed by a vowel or a sound 1 to 4") also rewrites a group at the end of the
  word, which nothing follows.
- Within the lists of steps 11 and 13 the longest group is rewritten first (SCH before CH, QU
  before Q); read strictly in list order, SCH and QU could never apply.
- Step 16 removes one final T or X.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: The 22 symbols of a Phonex code (step 17 of the description), in their published order.
PHONEX_ALPHABET = "12345EFGHIKLNORSTUWXYZ"

_LIGATURES = str.maketrans({"Œ": "OE", "Æ": "AE", "ß": "SS", "Ĳ": "IJ", "œ": "OE", "æ": "AE"})
_NOT_LETTER = re.compile(r"[^A-Z]+")

_STEP2_H = re.compile(r"(?<![CSP])H")
_STEP4_G = re.compile(r"G(?=AI?[NM])")
_STEP5 = re.compile(r"[AE]I[NM](?=[AEIOU])")
_STEP8 = re.compile(r"(?:AN|ON|AM|EN|EM|(IN))(?![AEIOU1234])")
_STEP9_S = re.compile(r"(?<=[AEIOU1234])S(?=[AEIOU1234])")
_STEP12_C = re.compile(r"C(?=[EI])")
_STEP13_G = re.compile(r"G(?=[AOY])")
_STEP14 = str.maketrans("ADPJBVM", "OTTGFFN")


def upper_ascii(value: str) -> str:
    """Upper case with diacritics stripped and ligatures spelt out (other characters kept)."""
    text = value.upper()
    if not text.isascii():
        text = text.translate(_LIGATURES)
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return text


def fold(value: str) -> str:
    """Letters A-Z only, upper case, diacritics and ligatures folded, separators removed."""
    return _NOT_LETTER.sub("", upper_ascii(value))


def _step8(match: re.Match[str]) -> str:
    return "4" if match.group(1) else "1"


def _collapse(text: str) -> str:
    """Step 15: remove duplicated letters (a letter equal to the one before it)."""
    out = []
    previous = ""
    for char in text:
        if char != previous:
            out.append(char)
            previous = char
    return "".join(out)


def _encode(s: str) -> str:
    """Steps 1 to 16 of the description on a string of letters A-Z."""
    s = s.replace("Y", "I")  # 1
    s = _STEP2_H.sub("", s)  # 2
    s = s.replace("PH", "F")  # 3
    s = _STEP4_G.sub("K", s)  # 4: GAN GAM GAIN GAIM -> KAN KAM KAIN KAIM
    s = _STEP5.sub("YN", s)  # 5: AIN EIN AIM EIM before a vowel -> YN
    for group, sound in (("EAU", "O"), ("OUA", "2"), ("EIN", "4"), ("AIN", "4"), ("EIM", "4"),
                         ("AIM", "4")):  # 6
        s = s.replace(group, sound)
    for group, sound in (("AI", "Y"), ("EI", "Y"), ("ER", "YR"), ("ESS", "YS"), ("ET", "YT"),
                         ("EZ", "YZ")):  # 7: the sound é
        s = s.replace(group, sound)
    s = _STEP8.sub(_step8, s)  # 8: AN ON AM EN EM -> 1, IN -> 4, unless a vowel or 1-4 follows
    s = _STEP9_S.sub("Z", s)  # 9
    for group, sound in (("OE", "E"), ("EU", "E"), ("AU", "O"), ("OI", "2"), ("OY", "2"),
                         ("OU", "3")):  # 10
        s = s.replace(group, sound)
    for group, sound in (("SCH", "5"), ("CH", "5"), ("SH", "5"), ("SS", "S"), ("SC", "S")):  # 11
        s = s.replace(group, sound)
    s = _STEP12_C.sub("S", s)  # 12
    for group, sound in (("QU", "K"), ("GU", "K"), ("C", "K"), ("Q", "K")):  # 13
        s = s.replace(group, sound)
    s = _STEP13_G.sub("K", s)  # 13: GA GO GY -> KA KO KY
    s = s.translate(_STEP14)  # 14
    s = _collapse(s)  # 15
    if s[-1:] in ("T", "X"):  # 16
        s = s[:-1]
    return s


@lru_cache(maxsize=1 << 18)
def phonex(value: str) -> str:
    """The Phonex code of a name (its words joined), "" when it has no letter.

    Never raises; cached, since names repeat across a repository.
    """
    letters = fold(value)
    return _encode(letters) if letters else ""
