"""Duplicate detection use cases: the desk's candidate check, the detection job that checks every
identity change after its commit, the pair list and the dismissal of a pair. The full scan is in
``app.services.duplicate_scan``.

The detection job runs in the worker (``identito worker``): each identity change that may change
its matches is queued with its own commit (``app.db.duplicates.DetectionQueue``), and the job takes
the queue in batches, one transaction each: it refreshes the changed identities' match keys,
scores them against their candidates and their open pairs, records the pairs and opens a
``potential_duplicate`` worklist item for each pair probable or better. HL7 inbound never waits for
it and never refuses a message for a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.db.duplicates import DuplicatePair
from app.domain.duplicates import FoundBy, PairStatus, match_key_hashes
from app.domain.errors import InvalidTrait
from app.domain.identity import Identity
from app.domain.matching import Grade, MatchRecord, from_identity, from_traits, match_score, score_pair
from app.domain.messages import register, register_terms
from app.domain.roles import Role, require_any
from app.domain.worklist import ClosingEvent, duplicate_pair_outcome
from app.services import identities
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, MissingReason, NotFound
from app.services.matching import Candidate, FoundPair, Recorded, candidates_for, decide_pair, record_pairs
from app.services.worklists import close_items

__all__ = ["DETECTION_JOB", "Candidate", "CheckFigures", "PairView", "check_changes", "dismiss_pair",
           "find_candidates", "get_pair", "list_pairs", "rebuild_keys"]

log = logging.getLogger("identito.duplicates")
register("duplicate-status-unknown", "Unknown pair status {value}: use open, dismissed, merged or linked.",
         "Statut de paire inconnu {value} : utilisez open, dismissed, merged ou linked.")
register("duplicate-grade-unknown", "Unknown grade {value}: use certain, probable, possible or no_match.",
         "Niveau inconnu {value} : utilisez certain, probable, possible ou no_match.")
register_terms({"Duplicate pair": "paire de doublons", "Duplicate scan": "scan des doublons"},
               parameter="what")
register_terms({"dismissal": "mise à l'écart de la paire"}, parameter="why")
CHECKERS = (Role.ADMISSION, Role.IDENTITOVIGILANCE)
CELL = (Role.IDENTITOVIGILANCE,)
DETECTION_JOB = Actor("job:duplicates", frozenset({"identitovigilance"}), kind="job")


def find_candidates(
    ctx: ServiceContext, actor: Actor, data: identities.TraitsInput, *, limit: int | None = None
) -> list[Candidate]:
    """The existing identities that may be the person these traits describe, best first: at least
    ``possible``, each with its score, grade, explanation and rules (nothing is written)."""
    require_any(actor.roles, *CHECKERS)
    record = from_identity_traits(ctx, data)
    with ctx.reading() as reader:
        return candidates_for(reader, record, ctx.duplicates, limit=limit)


def from_identity_traits(ctx: ServiceContext, data: identities.TraitsInput) -> MatchRecord:
    """The match record of typed traits (validated as creation validates them)."""
    return from_traits(identities.build(ctx, data))


# -- the detection job ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckFigures:
    """One batch of the detection job: changes taken, identities checked, pairs compared, and what
    recording the pairs did."""

    changes: int
    identities: int
    compared: int
    recorded: Recorded


def check_changes(ctx: ServiceContext, *, batch: int = 200) -> CheckFigures:
    """Check a batch of queued identity changes (one transaction); ``changes`` 0: nothing queued."""
    policy, model = ctx.duplicates, ctx.duplicates.model
    with ctx.unit_of_work(DETECTION_JOB) as uow:
        claimed = uow.duplicates.claim_checks(batch)
        if not claimed:
            return CheckFigures(0, 0, 0, Recorded())
        ids = sorted({c.identity_id for c in claimed})
        records = {i.id: from_identity(i) for i in uow.identities.get_many(ids) if i.active}
        keys = {identity_id: match_key_hashes(record) for identity_id, record in records.items()}
        uow.duplicates.replace_keys(ids, keys)
        # Candidates: the identities sharing a key (the block cap applies), and the open pairs of
        # the changed identities (a change may take a pair below ``possible``: it is re-scored).
        members: dict[int, list[int]] = {}
        for key, identity_id in uow.duplicates.members({h for hashes in keys.values() for h in hashes}):
            members.setdefault(key, []).append(identity_id)
        partners: dict[int, set[int]] = {identity_id: set() for identity_id in records}
        for identity_id, hashes in keys.items():
            for key in hashes:
                group = members.get(key, ())
                if len(group) <= policy.block_cap:
                    partners[identity_id].update(group)
        open_pairs = uow.duplicates.open_pairs_of(list(records))
        for pair in open_pairs:
            for one, other in ((pair.low_id, pair.high_id), (pair.high_id, pair.low_id)):
                if one in partners:
                    partners[one].add(other)
        others = {o for found in partners.values() for o in found} - set(records)
        loaded = dict(records)
        loaded.update((i.id, from_identity(i)) for i in uow.identities.get_many(sorted(others)) if i.active)
        open_keys = {p.key for p in open_pairs}
        found: dict[tuple[int, int], FoundPair] = {}
        compared = 0
        for identity_id, record in records.items():
            for other_id in partners[identity_id]:
                key = (min(identity_id, other_id), max(identity_id, other_id))
                if other_id == identity_id or key in found or other_id not in loaded:
                    continue
                compared += 1
                other = loaded[other_id]
                if key in open_keys or match_score(record, other, model) >= model.possible:
                    found[key] = FoundPair(record, other, score_pair(record, other, model))
        recorded = record_pairs(uow, list(found.values()), FoundBy.CHECK)
        uow.duplicates.done_checks([c.id for c in claimed])
        uow.commit()
    if recorded.proposed or recorded.cleared:
        log.info("duplicate check: %d changes, %d pairs proposed, %d alerts, %d cleared", len(claimed),
                 recorded.proposed, recorded.alerts, recorded.cleared)
    return CheckFigures(len(claimed), len(records), compared, recorded)


def check_all_pending(ctx: ServiceContext, *, batch: int = 200) -> int:
    """Run the detection job until the queue is empty; the changes handled (tests, CLI)."""
    total = 0
    while (figures := check_changes(ctx, batch=batch)).changes:
        total += figures.changes
    return total


def queued_changes(ctx: ServiceContext) -> int:
    """Identity changes waiting for the detection job."""
    with ctx.reading() as reader:
        return reader.duplicates.queued()


# -- the pair list and its decisions ----------------------------------------------------------------
@dataclass(frozen=True)
class PairView:
    """A pair with both identities, side by side (low id first)."""

    pair: DuplicatePair
    low: Identity
    high: Identity


def list_pairs(
    ctx: ServiceContext, actor: Actor, *, status: str | None = "open", grade: str | None = None,
    limit: int = 50, offset: int = 0,
) -> list[PairView]:
    """Pairs, best score first, with both identities (``no_match`` pairs only when asked by grade)."""
    require_any(actor.roles, *CELL)
    status = _status(status)
    grade = _grade(grade)
    with ctx.reading() as reader:
        pairs = reader.duplicates.list_pairs(status=status, grade=grade, limit=limit, offset=offset)
        held = {i.id: i for i in reader.identities.get_many(sorted({i for p in pairs for i in p.key}))}
    return [PairView(p, held[p.low_id], held[p.high_id]) for p in pairs]


def get_pair(ctx: ServiceContext, actor: Actor, pair_id: int) -> PairView:
    """One pair with both identities."""
    require_any(actor.roles, *CELL)
    with ctx.reading() as reader:
        pair = reader.duplicates.get_pair(pair_id)
        if pair is None:
            raise NotFound(what="Duplicate pair", ident=pair_id)
        low, high = reader.identities.get_many([pair.low_id, pair.high_id])
    return PairView(pair, low, high)


def dismiss_pair(ctx: ServiceContext, actor: Actor, pair_id: int, reason: str | None) -> PairView:
    """The cell says the two identities are two persons (reason required, audited on both): the
    pair is no longer proposed unless a strict trait of either changes (ins-rniv §6)."""
    require_any(actor.roles, *CELL)
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why="dismissal")
    with ctx.unit_of_work(actor) as uow:
        pair = uow.duplicates.get_pair(pair_id, for_update=True)
        if pair is None:
            raise NotFound(what="Duplicate pair", ident=pair_id)
        if pair.status != PairStatus.OPEN.value:
            raise Conflict("duplicate-pair-closed", ident=pair_id, status=pair.status)
        low, high = uow.identities.get_many([pair.low_id, pair.high_id])
        now = uow.now()
        digest = decide_pair(uow, pair_id, low, high, PairStatus.DISMISSED, reason)
        close_items(uow, pair.high_id, ClosingEvent.DUPLICATE_DISMISSED,
                    outcome=duplicate_pair_outcome(pair_id))
        for identity_id, other in ((pair.low_id, pair.high_id), (pair.high_id, pair.low_id)):
            uow.audit("duplicate.dismissed", identity_id, None,
                      {"pair": pair_id, "other_identity": other, "grade": pair.grade,
                       "score": round(pair.score, 4)}, reason, full=True)
        uow.commit()
    decided = replace(pair, status=PairStatus.DISMISSED.value, reason=reason, decided_by=actor.subject,
                      decided_at=now, decided_digest=digest, updated_at=now)
    return PairView(decided, low, high)


def _status(status: str | None) -> str | None:
    if status is None or status == "":
        return None
    try:
        return PairStatus(status).value
    except ValueError:
        raise InvalidTrait("duplicate-status-unknown", field="status", value=str(status)[:20]) from None


def _grade(grade: str | None) -> str | None:
    if grade is None or grade == "":
        return None
    try:
        return Grade(grade).value
    except ValueError:
        raise InvalidTrait("duplicate-grade-unknown", field="grade", value=str(grade)[:20]) from None


# -- match keys ---------------------------------------------------------------------------------
def rebuild_keys(ctx: ServiceContext, actor: Actor, *, batch: int = 5000,
                 on_batch: Callable[[int], None] | None = None) -> int:
    """Compute the match keys of every active identity again (after the migration that added them,
    or a change of the blocking keys); one transaction per batch, in id order. The identities keyed."""
    require_any(actor.roles, *CELL, Role.ADMIN)
    after, total = 0, 0
    while True:
        with ctx.unit_of_work(actor) as uow:
            records = uow.duplicates.match_records(after, batch)
            if not records:
                break
            ids = [r.identity_id or 0 for r in records]
            keys = {i: match_key_hashes(r) for i, r in zip(ids, records, strict=True)}
            uow.duplicates.replace_keys(ids, keys)
            uow.commit()
        after, total = ids[-1], total + len(records)
        if on_batch is not None:
            on_batch(len(records))
    return total
