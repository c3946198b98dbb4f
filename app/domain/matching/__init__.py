"""Matching identities: a French phonetic key, trait comparisons, a Fellegi-Sunter score, blocking.

Pure: no I/O. Build a ``MatchRecord`` once per identity (``from_identity``, ``from_traits``,
``MatchRecord.of`` or, for a scan's many, ``RecordBuilder``), then ``score_pair`` (score, grade,
explanation) or ``match_score`` (the score alone) for each candidate pair, candidates coming from
``blocking_keys`` in a full scan.
"""

from app.domain.matching.blocking import blocking_keys
from app.domain.matching.compare import (
    Comparison,
    Level,
    compare_birth_dates,
    compare_birth_names,
    compare_birth_places,
    compare_dates,
    compare_first_name_lists,
    compare_first_names,
    compare_ins,
    compare_names,
    compare_places,
    compare_sexes,
)
from app.domain.matching.model import DEFAULT_MODEL, TRAITS, MatchModel, TraitWeights, prior_for
from app.domain.matching.phonex import phonex
from app.domain.matching.record import MatchRecord, RecordBuilder, from_identity, from_traits
from app.domain.matching.score import (
    Grade,
    MatchResult,
    Rule,
    TraitResult,
    compare_records,
    grade_of,
    match_score,
    score_pair,
)

__all__ = [
    "DEFAULT_MODEL",
    "TRAITS",
    "Comparison",
    "Grade",
    "Level",
    "MatchModel",
    "MatchRecord",
    "MatchResult",
    "RecordBuilder",
    "Rule",
    "TraitResult",
    "TraitWeights",
    "blocking_keys",
    "compare_birth_dates",
    "compare_birth_names",
    "compare_birth_places",
    "compare_dates",
    "compare_first_name_lists",
    "compare_first_names",
    "compare_ins",
    "compare_names",
    "compare_places",
    "compare_records",
    "compare_sexes",
    "from_identity",
    "from_traits",
    "grade_of",
    "match_score",
    "phonex",
    "prior_for",
    "score_pair",
]
