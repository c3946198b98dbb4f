"""Duplicate detection: pairs and their life cycle, the keys of a candidate lookup, a full scan.

A duplicate is one person behind two identities (ins-rniv §6). Identito proposes *pairs* of
identities that the matcher (``app.domain.matching``) scores at least ``possible``; the
identitovigilance cell decides. A pair is stored once, its identities in id order (low, high).

Life cycle of a pair: ``open`` (proposed), ``dismissed`` (the cell says: two persons), later
``merged`` or ``linked``. A dismissed pair keeps a digest of both identities' strict traits as
they were when it was dismissed: it is proposed again only if a strict trait of either changes
(the cell decided on those traits; ins-rniv §3 calls them the traits that identify the person).

Pure: no I/O. The scan's grouping (``Blocks``) and pair filter (``PairFilter``) are here so that
their figures can be tested without a database.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.matching import (
    DEFAULT_MODEL,
    Grade,
    MatchModel,
    MatchRecord,
    MatchResult,
    blocking_keys,
    compare_dates,
    compare_ins,
    match_score,
)
from app.domain.matching.blocking import blocking_key_set
from app.domain.matching.compare import RANK, Level
from app.domain.messages import register


class PairStatus(StrEnum):
    """Where a proposed pair stands."""

    OPEN = "open"
    DISMISSED = "dismissed"
    MERGED = "merged"  # set by the merge use case (later)
    LINKED = "linked"  # set by the link use case (later)


class FoundBy(StrEnum):
    """What proposed a pair first (or again, after a dismissal)."""

    CHECK = "check"  # the continuous detection after an identity change
    SCAN = "scan"  # a full scan
    DESK = "desk"  # the desk's candidate check, overridden with ``confirm_new``


class ScanStatus(StrEnum):
    """Life cycle of a full scan job."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


#: Grades that open a ``potential_duplicate`` worklist item and that the desk must confirm.
ALERT_GRADES = frozenset({Grade.CERTAIN, Grade.PROBABLE})
#: Grades stored as pairs (a ``no_match`` is never proposed).
PROPOSED_GRADES = frozenset({Grade.CERTAIN, Grade.PROBABLE, Grade.POSSIBLE})


def ordered(a: int, b: int) -> tuple[int, int]:
    """The ids of a pair in the order it is stored: (low, high)."""
    return (a, b) if a < b else (b, a)


def _strict(record: MatchRecord) -> str:
    place = record.birth_place.code if record.birth_place is not None else ""
    completed = "~" if record.birth_date_completed else ""
    born = record.birth_date.isoformat() + completed
    return "|".join((record.birth_name.text, record.first_names.text, born, record.sex, place))


def strict_digest(low: MatchRecord, high: MatchRecord) -> str:
    """A digest of the strict traits of both identities of a pair (low id first), taken when the
    cell decides: when it no longer matches, a strict trait of either changed (ins-rniv §3)."""
    text = _strict(low) + "\n" + _strict(high)
    return hashlib.sha256(text.encode()).hexdigest()


def may_propose(status: PairStatus | None, decided_digest: str | None, digest: str) -> bool:
    """Whether a pair found again is proposed: new or open, yes; dismissed, only if a strict trait
    of either identity changed since (the digest differs); merged or linked, no."""
    if status is None or status is PairStatus.OPEN:
        return True
    if status is PairStatus.DISMISSED:
        return decided_digest != digest
    return False


def explanation(result: MatchResult) -> list[dict[str, Any]]:
    """The explanation as stored and shown: per trait, its name, level, case and weight (bits).

    Never a value of an identity: it may be logged and kept in audit records.
    """
    return [
        {"trait": t.trait, "level": t.level.value, "code": t.code, "weight": round(t.weight, 2)}
        for t in result.traits
    ]


# -- candidate lookup keys ------------------------------------------------------------------------
def key_hash(key: str) -> int:
    """A blocking key as stored: 64 bits of BLAKE2b, signed (a BIGINT on both engines).

    Blocking keys carry birth dates and INS; the stored hash keeps them out of the key table, and
    two keys that collide only bring one more candidate to score.
    """
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def match_key_hashes(record: MatchRecord) -> frozenset[int]:
    """The stored keys of an identity: the hashes of its blocking keys."""
    return frozenset(key_hash(key) for key in blocking_keys(record))


@dataclass(frozen=True)
class DetectionPolicy:
    """How candidates are looked up and scored (settings ``IDENTITO_DUPLICATES__*``)."""

    model: MatchModel = DEFAULT_MODEL
    block_cap: int = 1000  # a key shared by more identities is not compared (very common name...)
    candidates: int = 10  # candidates the desk check returns, best first
    max_loaded: int = 500  # identities a desk check loads and scores at most
    pending_limit: int = 1000  # changed identities not yet keyed that a desk check also scores


# -- the pair filter of a scan ----------------------------------------------------------------
@dataclass(frozen=True)
class PairFilter:
    """Tells, from the INS and the birth date alone, that a pair cannot reach ``possible``.

    The traits left (names, first names, sex, place) weigh at most the sum of their best levels;
    when even that cannot lift the pair to ``possible``, ``match_score`` would return less and the
    pair is skipped. Exact: the grade bounds never raise a score but for the same INS, which is
    always scored. Most pairs a scan meets share a name and a year, not a date: this skips them.
    """

    model: MatchModel = DEFAULT_MODEL
    need: float = field(init=False)  # bits the traits must sum to for ``possible``
    rest: float = field(init=False)  # the best the name, first names, sex and place can add

    def __post_init__(self) -> None:
        p = self.model.possible
        object.__setattr__(self, "need", math.log2(p / (1 - p)) - self.model.prior_log2_odds)
        table = self.model.table
        object.__setattr__(self, "rest", max(table[1]) + max(table[2]) + max(table[4]) + max(table[5]))

    def may_match(self, a: MatchRecord, b: MatchRecord) -> bool:
        """False when the pair cannot score ``possible`` (then ``match_score`` need not run)."""
        ins = compare_ins(a, b)
        if ins.rank == _EXACT:
            return True
        dates = compare_dates(a.birth_date, a.birth_date_completed, b.birth_date, b.birth_date_completed)
        table = self.model.table
        return table[0][ins.rank] + table[3][dates.rank] + self.rest >= self.need


_EXACT = RANK[Level.EXACT]


# -- the full scan ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BlockFigures:
    """What grouping by blocking key gave: groups of two or more, groups over the cap (not
    compared), the identities in them, and the pairs the kept groups hold (before removing the
    pairs that share several keys)."""

    groups: int
    capped_groups: int
    capped_identities: int
    candidate_pairs: int


class KeyGroups:
    """Identities grouped by blocking key, known by their position (0, 1, 2... as added).

    Built where the keys are: by ``Blocks`` itself, or by the process that groups a scan's keys
    while the scan's process builds the records (``KeyMaker``). Most keys belong to one identity (a
    million records hold several million keys): a key keeps its first identity alone, a list only
    from the second one.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.count = 0
        self._groups: dict[int, int | list[int]] = {}

    def add(self, keys: Iterable[str]) -> None:
        """The keys of the next identity."""
        index = self.count
        self.count += 1
        groups = self._groups
        for key in keys:
            code = hash(key)  # within one process: the groups never leave it
            group = groups.get(code)
            if group is None:
                groups[code] = index
            elif isinstance(group, int):
                groups[code] = [group, index]
            else:
                group.append(index)

    def seal(self) -> tuple[list[list[int]], BlockFigures]:
        """The groups of 2 to ``cap`` identities (positions in order) and the figures; the keys
        are forgotten."""
        cap = self.cap
        kept: list[list[int]] = []
        capped = candidate_pairs = 0
        crowded: set[int] = set()
        for group in self._groups.values():
            if isinstance(group, int):
                continue
            size = len(group)
            if size > cap:
                capped += 1
                crowded.update(group)
            else:
                kept.append(group)
                candidate_pairs += size * (size - 1) // 2
        self._groups = {}
        return kept, BlockFigures(groups=len(kept) + capped, capped_groups=capped,
                                  capped_identities=len(crowded), candidate_pairs=candidate_pairs)


class Blocks:
    """Identities of a scan grouped by blocking key, in the order they were added (id order).

    Each pair is compared once, when its second identity comes: ``partners(i)`` are the identities
    added before ``i`` that share a key with it. So a scan can stop after any identity and resume
    from the next one with the same result. A key shared by more than ``cap`` identities (a very
    common name and first name, a placeholder name) is not compared: its identities still meet
    through their other keys.

    The keys are grouped here (``add``, then ``seal``), or elsewhere: ``extend`` with the records,
    then ``use_groups`` with the groups ``KeyGroups.seal`` gave for their keys.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.records: list[MatchRecord] = []
        self._keys = KeyGroups(cap)
        self._of: list[tuple[list[int], ...]] = []

    def add(self, record: MatchRecord) -> None:
        """Add the next identity (in id order)."""
        self.records.append(record)
        self._keys.add(blocking_key_set(record))

    def extend(self, records: Iterable[MatchRecord]) -> None:
        """Add the next identities, their keys grouped elsewhere (``use_groups``)."""
        self.records.extend(records)

    def seal(self) -> BlockFigures:
        """Give each identity its groups of 2 to ``cap`` members (``partners``); the figures."""
        groups, figures = self._keys.seal()
        self.use_groups(groups)
        return figures

    def use_groups(self, groups: Iterable[list[int]]) -> None:
        """Give each identity its groups: the kept groups of the keys of all the records, by
        position (``KeyGroups.seal``)."""
        of: list[tuple[list[int], ...]] = [()] * len(self.records)
        for group in groups:
            for member in group:
                of[member] += (group,)
        self._of = of

    def __len__(self) -> int:
        return len(self.records)

    def partners(self, index: int) -> Iterable[int]:
        """The identities before ``index`` sharing a kept key with it (each once)."""
        found: list[int] | set[int] = []
        for group in self._of[index]:
            if group[0] == index:
                continue
            before = group[: bisect_left(group, index)]
            if not found:
                found = before
            else:
                found = set(found)
                found.update(before)
        return found

    def index_after(self, identity_id: int) -> int:
        """The position of the first identity whose id is greater (where a resumed scan starts)."""
        records = self.records
        low, high = 0, len(records)
        while low < high:
            middle = (low + high) // 2
            if (records[middle].identity_id or 0) <= identity_id:
                low = middle + 1
            else:
                high = middle
        return low


@dataclass(frozen=True)
class Found:
    """A pair a scan found: positions of both identities in the scan and the score."""

    first: int
    second: int
    score: float


def scan_range(blocks: Blocks, start: int, stop: int, pair_filter: PairFilter) -> tuple[list[Found], int]:
    """Score the pairs whose second identity is in ``[start, stop)``: those at least ``possible``,
    and how many pairs were compared (the filter's skips included)."""
    records, model = blocks.records, pair_filter.model
    possible, may_match = model.possible, pair_filter.may_match
    found: list[Found] = []
    compared = 0
    for index in range(start, stop):
        partners = blocks.partners(index)
        if not partners:
            continue
        record = records[index]
        for other in partners:
            compared += 1
            partner = records[other]
            if may_match(partner, record):
                score = match_score(partner, record, model)
                if score >= possible:
                    found.append(Found(other, index, score))
    return found, compared


register(
    "probable-duplicate",
    "These traits match {count} existing identity(ies) (certain or probable duplicate): check the "
    "candidates against the patient's identity document. To create the identity anyway, send the "
    "request again with \"confirm_new\": true (recorded in the audit trail with the candidates shown).",
    "Ces traits ressemblent à {count} identité(s) existante(s) (doublon certain ou probable) : vérifiez "
    "les candidats avec le justificatif d'identité du patient. Pour créer l'identité malgré tout, "
    "renvoyez la demande avec \"confirm_new\": true (tracé dans l'historique avec les candidats "
    "présentés).",
)
register(
    "duplicate-pair-closed",
    "Pair {ident} is not open (status {status}): nothing to dismiss.",
    "La paire {ident} n'est pas ouverte (statut {status}) : rien à écarter.",
)
register(
    "duplicate-scan-busy",
    "Scan {ident} is being run by {runner}: wait for it, or resume it once that runner has stopped.",
    "Le scan {ident} est en cours d'exécution par {runner} : attendez sa fin, ou reprenez-le une fois "
    "ce processus arrêté.",
)
register(
    "duplicate-scan-finished",
    "Scan {ident} has already ended (status {status}).",
    "Le scan {ident} est déjà terminé (statut {status}).",
)
