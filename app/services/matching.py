"""What the duplicate use cases share: the candidates of one set of traits, and recording the pairs
found (by the desk check, the detection job or a scan) with their worklist items.

Not use cases themselves (no role check, no transaction of their own): ``app.services.identities``
(the desk's refusal of a probable duplicate), ``app.services.duplicates`` (candidates, detection,
pairs) and ``app.services.duplicate_scan`` call them inside their own reading or unit of work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.db.duplicates import DuplicatePair, PairWrite
from app.db.unit_of_work import Reader
from app.domain.duplicates import (
    ALERT_GRADES,
    PROPOSED_GRADES,
    DetectionPolicy,
    FoundBy,
    PairStatus,
    explanation,
    match_key_hashes,
    may_propose,
    strict_digest,
)
from app.domain.identity import Identity
from app.domain.matching import Grade, MatchRecord, MatchResult, Rule, from_identity, match_score, score_pair
from app.domain.worklist import ClosingEvent, Hint, WorklistKind, duplicate_pair_outcome
from app.services.context import UnitOfWork
from app.services.worklists import NewItem, close_items, open_items

COLLISION_OUTCOME = "same-ins-traits-disagree"  # the outcome of a potential_collision the matching opens


@dataclass(frozen=True)
class Candidate:
    """An identity that may be the same person as the traits checked, with its score explained."""

    identity: Identity
    result: MatchResult


def candidates_for(reader: Reader | UnitOfWork, record: MatchRecord, policy: DetectionPolicy, *,
                   limit: int | None = None) -> list[Candidate]:
    """The identities scoring at least ``possible`` against a record, best first (``limit`` of them,
    the policy's by default); each explained.

    Two statements: the identities sharing a key with the record (at most the block cap per key,
    and the latest changes the detection job has not keyed yet), then those identities. Scored
    with ``match_score``; only the ones returned are explained (``score_pair``).
    """
    hashes = sorted(match_key_hashes(record))
    cap = policy.block_cap
    rows = reader.duplicates.candidates(hashes, per_key=cap + 1, pending=policy.pending_limit)
    per_key = Counter(key for key, _ in rows if key is not None)
    shared: Counter[int] = Counter()
    pending: set[int] = set()
    for key, identity_id in rows:
        if key is None:
            pending.add(identity_id)
        elif per_key[key] <= cap:
            shared[identity_id] += 1
    wanted = [identity_id for identity_id, _ in shared.most_common(policy.max_loaded)]
    wanted += sorted(pending - set(wanted))
    model = policy.model
    scored: list[tuple[float, Identity, MatchRecord]] = []
    for identity in reader.identities.get_many(wanted):
        if not identity.active or identity.id == record.identity_id:
            continue
        other = from_identity(identity)
        if identity.id not in shared and match_key_hashes(other).isdisjoint(hashes):
            continue  # a change not keyed yet that shares no key: not a candidate once keyed either
        score = match_score(record, other, model)
        if score >= model.possible:
            scored.append((score, identity, other))
    scored.sort(key=lambda found: (-found[0], found[1].id))
    top = scored[: limit or policy.candidates]
    return [Candidate(identity, score_pair(record, other, model)) for _, identity, other in top]


@dataclass(frozen=True)
class FoundPair:
    """Two identities scored together (either order), with the full result."""

    first: MatchRecord
    second: MatchRecord
    result: MatchResult

    def ordered(self) -> tuple[MatchRecord, MatchRecord]:
        """(low, high) by identity id."""
        a, b = self.first, self.second
        return (a, b) if (a.identity_id or 0) < (b.identity_id or 0) else (b, a)


@dataclass(frozen=True)
class Recorded:
    """What recording found pairs did: pairs proposed (new or reopened), updated, worklist items
    opened, items closed because a pair is no longer probable or better."""

    proposed: int = 0
    updated: int = 0
    alerts: int = 0
    cleared: int = 0


def record_pairs(uow: UnitOfWork, found: Sequence[FoundPair], found_by: FoundBy) -> Recorded:
    """Store found pairs: a new pair at least ``possible`` is proposed; an open pair takes its new
    score (``no_match`` included), and its worklist item closes when it is no longer probable or
    better; a dismissed pair is proposed
    again only when a strict trait of either identity changed since (``may_propose``); merged and
    linked pairs are left alone. A pair that becomes probable or better opens a
    ``potential_duplicate`` worklist item (one per pair)."""
    by_key: dict[tuple[int, int], FoundPair] = {}
    for pair in found:
        low, high = pair.ordered()
        by_key[(low.identity_id or 0, high.identity_id or 0)] = pair
    stored = uow.duplicates.pairs_between(by_key)
    writes: list[PairWrite] = []
    alert: list[bool] = []  # per write: open a worklist item
    clear: list[bool] = []  # per write: close its worklist item
    reopened: list[int] = []
    for key, pair in by_key.items():
        existing, grade = stored.get(key), pair.result.grade
        values = _values(key, pair.result)
        if existing is None:
            if grade not in PROPOSED_GRADES:
                continue
            writes.append(PairWrite(**values, status=PairStatus.OPEN.value, found_by=found_by.value))
            alert.append(grade in ALERT_GRADES)
            clear.append(False)
        elif existing.status == PairStatus.OPEN.value:
            writes.append(PairWrite(**values, status=existing.status, found_by=existing.found_by,
                                    id=existing.id))
            alert.append(grade in ALERT_GRADES and Grade(existing.grade) not in ALERT_GRADES)
            clear.append(grade not in ALERT_GRADES and Grade(existing.grade) in ALERT_GRADES)
        elif grade in PROPOSED_GRADES and _proposed_again(existing, pair):
            writes.append(PairWrite(**values, status=PairStatus.OPEN.value, found_by=found_by.value,
                                    id=existing.id))
            alert.append(grade in ALERT_GRADES)
            clear.append(False)
            reopened.append(existing.id)
    if not writes:
        return Recorded()
    ids = uow.duplicates.save_pairs(writes, uow.now())
    items: list[NewItem] = []
    for pair_id, write, opens, closes in zip(ids, writes, alert, clear, strict=True):
        outcome = duplicate_pair_outcome(pair_id)
        if pair_id in reopened:
            for identity_id, other in ((write.low_id, write.high_id), (write.high_id, write.low_id)):
                uow.audit("duplicate.reopened", identity_id, None,
                          {"pair": pair_id, "other_identity": other, "grade": write.grade,
                           "why": "strict-traits-changed"}, full=True)
        if opens:
            items.append(NewItem(write.high_id, outcome, Hint.REVIEW_DUPLICATE, write.low_id,
                                 {"pair_id": pair_id, "grade": write.grade, "score": round(write.score, 4)}))
        if closes:
            close_items(uow, write.high_id, ClosingEvent.DUPLICATE_CLEARED, outcome=outcome)
    open_items(uow, WorklistKind.POTENTIAL_DUPLICATE, items, source=found_by.value)
    fresh = [w.id is None or w.id in reopened for w in writes]  # proposed now (new or again)
    _open_collisions(uow, ids, writes, fresh, found_by)
    new = sum(1 for w in writes if w.id is None) + len(reopened)
    return Recorded(proposed=new, updated=len(writes) - new, alerts=sum(alert), cleared=sum(clear))


def _open_collisions(
    uow: UnitOfWork, ids: Sequence[int], writes: Sequence[PairWrite], fresh: Sequence[bool], found_by: FoundBy
) -> None:
    """A pair proposed with one INS and traits that disagree may be two persons behind one INS
    (ins-rniv §6; graded possible, ``app.domain.matching.score``): a ``potential_collision`` item on
    its high identity (one open item each)."""
    items = {
        write.high_id: NewItem(write.high_id, COLLISION_OUTCOME, Hint.REVIEW_COLLISION, write.low_id,
                               {"pair_id": pair_id})
        for pair_id, write, proposed in zip(ids, writes, fresh, strict=True)
        if proposed and Rule.SAME_INS_TRAITS_DISAGREE.value in write.rules
    }
    if items:
        open_items(uow, WorklistKind.POTENTIAL_COLLISION, list(items.values()), source=found_by.value)


def _values(key: tuple[int, int], result: MatchResult) -> dict[str, object]:
    return {"low_id": key[0], "high_id": key[1], "score": result.score, "grade": result.grade.value,
            "explanation": explanation(result), "rules": [r.value for r in result.rules]}


def _proposed_again(existing: DuplicatePair, pair: FoundPair) -> bool:
    low, high = pair.ordered()
    return may_propose(PairStatus(existing.status), existing.decided_digest, strict_digest(low, high))


def explained(pairs: Iterable[tuple[MatchRecord, MatchRecord]], policy: DetectionPolicy) -> list[FoundPair]:
    """Found pairs with their full result (score, grade, explanation, rules)."""
    return [FoundPair(a, b, score_pair(a, b, policy.model)) for a, b in pairs]


def decide_pair(
    uow: UnitOfWork, pair_id: int, a: Identity, b: Identity, status: PairStatus, reason: str
) -> str:
    """Record the cell's decision on the pair of two identities (dismissed, merged, linked) with the
    digest of both identities' strict traits as they are now (``may_propose``); the digest."""
    low, high = (a, b) if a.id < b.id else (b, a)
    digest = strict_digest(from_identity(low), from_identity(high))
    uow.duplicates.decide(pair_id, status=status.value, reason=reason, by=uow.actor.subject, at=uow.now(),
                          digest=digest)
    return digest
