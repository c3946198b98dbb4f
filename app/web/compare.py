"""Side-by-side views: two sets of traits row by row (equal / differs / missing marked in words),
and the matching engine's explanation per trait in French words. Presentation only: the grade,
the score and the explanation come from the services (app.domain.matching computed them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.web.i18n import Words
from app.web.i18n_more import CASE_LABELS, GRADE_LABELS, LEVEL_LABELS, MATCH_TRAIT_LABELS, RULE_LABELS
from app.web.views import show_date

# The traits a person compares, in the identity page's order: (attribute, label key).
ROWS: tuple[tuple[str, str], ...] = (
    ("birth_name", "birth_name"), ("first_names", "first_names"), ("first_name", "first_first_name"),
    ("birth_date", "birth_date"), ("sex", "sex"), ("birth_place_code", "birth_place"),
    ("used_name", "used_name"), ("used_first_name", "used_first_name"),
)
EXTRA_ROWS: tuple[tuple[str, str], ...] = (("ins", "ins"), ("ipp", "ipp"), ("status", "status"),
                                           ("attributes", "attributes"))


@dataclass(frozen=True)
class Row:
    """One trait on both sides and whether the two values are the same (mark: equal/differs/missing)."""

    label: str
    left: str
    right: str
    mark: str
    mark_text: str


@dataclass(frozen=True)
class Line:
    """One line of the engine's explanation: the trait, the agreement found, the case, the weight."""

    trait: str
    level: str
    level_text: str
    case: str
    weight: str


@dataclass(frozen=True)
class Score:
    """A grade and a score as shown: words, a percentage, the rules that bounded it."""

    grade: str
    grade_text: str
    percent: str
    lines: tuple[Line, ...]
    rules: tuple[str, ...]


def shown(value: Any, words: Words) -> str:
    """A trait's value as a page writes it (empty string when there is none)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return show_date(value, words)
    if isinstance(value, (list, tuple, frozenset, set)):
        return ", ".join(sorted(str(v) for v in value))
    if hasattr(value, "matricule"):
        return f"{value.matricule} ({value.nature})"
    return str(getattr(value, "value", value))


def rows(left: Any, right: Any, words: Words, *, extra: bool = False) -> list[Row]:
    """Both sides' traits, row by row, each marked equal, differs or missing."""
    result = []
    for name, key in ROWS + (EXTRA_ROWS if extra else ()):
        a, b = shown(getattr(left, name, None), words), shown(getattr(right, name, None), words)
        mark = "missing" if not (a and b) else ("equal" if a == b else "differs")
        if not a and not b:
            mark = "none"
        result.append(Row(words(key), a or "—", b or "—", mark, words(f"cmp_{mark}")))
    return result


def score(grade: str, value: float, lines: Iterable[Any], rules: Iterable[str], words: Words) -> Score:
    """A grade, its score and the explanation (dicts as stored with a pair, or TraitResult values)."""
    explained = []
    for line in lines:
        item = line if isinstance(line, dict) else {"trait": line.trait, "level": str(line.level.value),
                                                    "code": line.code, "weight": line.weight}
        explained.append(Line(words.of(MATCH_TRAIT_LABELS, item["trait"]), item["level"],
                              words.of(LEVEL_LABELS, item["level"]), words.of(CASE_LABELS, item["code"]),
                              _number(f"{float(item['weight']):+.1f}", words)))
    percent = _number(f"{value * 100:.1f} %" if words.language == "fr" else f"{value * 100:.1f}%", words)
    return Score(grade, words.of(GRADE_LABELS, grade), percent, tuple(explained),
                 tuple(words.of(RULE_LABELS, str(r)) for r in rules))


def _number(text: str, words: Words) -> str:
    """A decimal number the way the page's language writes it (a comma in French)."""
    return text.replace(".", ",") if words.language == "fr" else text
