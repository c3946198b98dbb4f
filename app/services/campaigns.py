"""Batch campaigns: select identities, track progress, pause/resume/cancel, report; and the use
cases of the runners that process them.

A campaign snapshots its selection into campaign items when it is created; the runners
(app/workers/campaigns.py) claim items one by one and change them only through the functions at
the end of this module. An item ends in exactly one outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from app.db.campaigns import Campaign, ClaimedItem, IdentityFilter, ReportLine
from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.insi import InsiError, ResolvedSearch
from app.domain.messages import register, register_terms
from app.domain.roles import Role, require_any
from app.domain.worklist import Hint, WorklistKind
from app.services import qualification
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import NotFound
from app.services.identities import load
from app.services.worklists import open_item

log = logging.getLogger("identito.campaigns")
CELL = (Role.IDENTITOVIGILANCE, Role.ADMIN)

register("campaign-selection-empty",
         "The campaign selection is empty: give statuses, ids, an age or 'eligible'.",
         "La sélection de la campagne est vide : indiquez des statuts, des identifiants, une ancienneté "
         "ou 'eligible'.")
register("campaign-transition", "Cannot {action} a {status} campaign.",
         "Impossible de {action} une campagne {status}.")
register_terms({"pause": "mettre en pause", "resume": "reprendre", "cancel": "annuler"}, parameter="action")
register_terms({"running": "en cours", "paused": "en pause", "cancelled": "annulée", "done": "terminée"},
               parameter="status")


class Operation(StrEnum):
    """What a campaign asks INSi for each identity."""

    RETRIEVE = "retrieve"
    VERIFY = "verify"


class CampaignStatus(StrEnum):
    """Life cycle of a campaign."""

    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


@dataclass(frozen=True)
class Selection:
    """Which identities a campaign covers (criteria are combined)."""

    statuses: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()
    insi_older_than_days: int | None = None
    eligible: bool = False

    def as_json(self) -> dict[str, Any]:
        """Stored with the campaign."""
        return {"statuses": list(self.statuses), "ids": list(self.ids),
                "insi_older_than_days": self.insi_older_than_days, "eligible": self.eligible}


@dataclass(frozen=True)
class Progress:
    """Where a campaign stands."""

    id: int
    name: str
    operation: str
    status: str
    auto_apply: bool
    rate_limit: float | None
    concurrency: int
    total: int
    done: int
    in_flight: int
    outcomes: dict[str, int]
    rate_per_second: float
    eta_seconds: float | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    selection: dict[str, Any] = field(default_factory=dict)


ELIGIBLE_STATUSES = frozenset({"PROV", "VALI"})


def _identity_filter(selection: Selection, operation: Operation, now: datetime) -> IdentityFilter:
    """The identities a selection covers (``eligible``: PROV and VALI among the statuses asked)."""
    statuses = frozenset(selection.statuses) if selection.statuses else None
    if selection.eligible:
        statuses = ELIGIBLE_STATUSES if statuses is None else statuses & ELIGIBLE_STATUSES
    older = selection.insi_older_than_days
    return IdentityFilter(statuses, selection.ids, None if older is None else now - timedelta(days=older),
                          with_active_ins=operation is Operation.VERIFY)


def create_campaign(
    ctx: ServiceContext, actor: Actor, *, name: str, operation: str, selection: Selection,
    auto_apply: bool = False, rate_limit: float | None = None, concurrency: int = 4,
) -> Progress:
    """Create a campaign and snapshot its identities (DOUT/FICT and sex U are never selected)."""
    require_any(actor.roles, *CELL)
    try:
        op = Operation(operation)
    except ValueError:
        raise InvalidTrait("campaign-operation", field="operation", value=str(operation)[:20]) from None
    if not (selection.statuses or selection.ids or selection.eligible
            or selection.insi_older_than_days is not None):
        raise InvalidTrait("campaign-selection-empty", field="selection")
    with ctx.unit_of_work(actor) as uow:
        campaign = uow.campaigns.add(
            name=name, operation=op.value, selection=selection.as_json(), auto_apply=auto_apply,
            rate_limit=rate_limit, concurrency=concurrency, created_by=actor.subject, at=ctx.now(),
            identities=_identity_filter(selection, op, ctx.now()))
        uow.audit("campaign.created", None, None, {"campaign": campaign.id, "operation": op.value,
                  "total": campaign.total, "auto_apply": auto_apply}, full=True)
        uow.commit()
    return progress(ctx, actor, campaign.id)


register("campaign-operation", "Unknown campaign operation {value}: use retrieve or verify.",
         "Opération de campagne inconnue {value} : utilisez retrieve ou verify.")


def progress(ctx: ServiceContext, actor: Actor, campaign_id: int) -> Progress:
    """Done/total, outcomes, rate over the last minute and ETA."""
    require_any(actor.roles, *CELL)
    with ctx.reading() as reader:
        campaign = reader.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound(what="Campaign", ident=campaign_id)
        counts = reader.campaigns.counts(campaign_id, ctx.now() - timedelta(seconds=60))
    done = counts.by_state.get("done", 0)
    rate = counts.finished_since / 60.0
    remaining = campaign.total - done
    eta = (remaining / rate) if rate > 0 and remaining else (0.0 if not remaining else None)
    return Progress(campaign.id, campaign.name, campaign.operation, campaign.status, campaign.auto_apply,
                    campaign.rate_limit, campaign.concurrency, campaign.total, done,
                    counts.by_state.get("in_flight", 0), counts.outcomes, rate, eta, campaign.created_by,
                    campaign.created_at, campaign.finished_at, campaign.selection)


_TRANSITIONS = {
    "pause": ({CampaignStatus.RUNNING}, CampaignStatus.PAUSED),
    "resume": ({CampaignStatus.PAUSED}, CampaignStatus.RUNNING),
    "cancel": ({CampaignStatus.RUNNING, CampaignStatus.PAUSED}, CampaignStatus.CANCELLED),
}


def actions_for(status: str) -> tuple[str, ...]:
    """The actions (pause, resume, cancel) a campaign of this status allows."""
    return tuple(action for action, (allowed, _) in _TRANSITIONS.items() if CampaignStatus(status) in allowed)


def change_status(ctx: ServiceContext, actor: Actor, campaign_id: int, action: str,
                  reason: str | None = None) -> Progress:
    """Pause, resume or cancel a campaign (the worker notices before its next call)."""
    require_any(actor.roles, *CELL)
    allowed, target = _TRANSITIONS[action]
    with ctx.unit_of_work(actor) as uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound(what="Campaign", ident=campaign_id)
        if CampaignStatus(campaign.status) not in allowed:
            raise RuleViolation("campaign-transition", status=campaign.status, action=action)
        if target is CampaignStatus.CANCELLED:
            uow.campaigns.set_status(campaign_id, target.value, finished_at=ctx.now())
            uow.campaigns.cancel_pending(campaign_id, ctx.now())
        else:
            uow.campaigns.set_status(campaign_id, target.value)
        uow.audit(f"campaign.{action}", None, None, {"campaign": campaign_id}, reason, full=True)
        uow.commit()
    return progress(ctx, actor, campaign_id)


def report(ctx: ServiceContext, actor: Actor, campaign_id: int) -> list[ReportLine]:
    """One line per identity with its outcome, in the order of the selection's snapshot."""
    require_any(actor.roles, *CELL)
    with ctx.reading() as reader:
        if reader.campaigns.get(campaign_id) is None:
            raise NotFound(what="Campaign", ident=campaign_id)
        return reader.campaigns.report(campaign_id)


def list_campaigns(ctx: ServiceContext, actor: Actor) -> list[Progress]:
    """Every campaign, newest first."""
    require_any(actor.roles, *CELL)
    with ctx.reading() as reader:
        ids = reader.campaigns.ids(limit=100)
    return [progress(ctx, actor, i) for i in ids]


# -- what the campaign runners do (app/workers/campaigns.py) ------------------------------------
# Each function is one transaction. An item in flight belongs to the runner that claimed it: the
# functions that move it out of that state return False, writing nothing, when it no longer was
# (its lease ran out and another runner closed it).

RUNNER = Actor("job:campaign-runner", frozenset({"identitovigilance"}), kind="job")


def job_of(campaign_id: int) -> Actor:
    """Who writes a campaign's outcomes (worklist items, identity changes): ``campaign:<id>``."""
    return Actor(f"campaign:{campaign_id}", frozenset({"identitovigilance"}), kind="job")


def campaign_to_run(ctx: ServiceContext, campaign_id: int) -> Campaign | None:
    """A campaign as a runner needs it (operation, pacing), or None if there is none."""
    with ctx.reading() as reader:
        return reader.campaigns.get(campaign_id)


def running_campaigns(ctx: ServiceContext) -> list[int]:
    """The ids of the running campaigns, oldest first."""
    with ctx.reading() as reader:
        return reader.campaigns.ids(status=CampaignStatus.RUNNING.value)


def claim_next_item(ctx: ServiceContext, campaign_id: int) -> ClaimedItem | None:
    """Put the next pending item of a running campaign in flight, committed before any call to INSi
    (one statement: a paused or cancelled campaign yields nothing, like an exhausted one)."""
    with ctx.unit_of_work(job_of(campaign_id)) as uow:
        item = uow.campaigns.claim_next(campaign_id, ctx.now())
        uow.commit()
    return item


def renew_leases(ctx: ServiceContext, item_ids: list[int]) -> set[int]:
    """Renew the leases of items in flight (one statement); the ids still in flight, the others lost."""
    with ctx.unit_of_work(RUNNER) as uow:
        kept = uow.campaigns.renew(item_ids, ctx.now())
        uow.commit()
    return kept


def count_attempt(ctx: ServiceContext, item_id: int, attempts: int) -> bool:
    """Record the number of the item's next call and renew its lease; False if it is no longer in flight."""
    with ctx.unit_of_work(RUNNER) as uow:
        kept = uow.campaigns.count_attempt(item_id, attempts, ctx.now())
        uow.commit()
    return kept


def hand_back_item(ctx: ServiceContext, item_id: int, calls_made: int) -> bool:
    """Put an item in flight back to pending with the calls it had, for a later run of any runner."""
    with ctx.unit_of_work(RUNNER) as uow:
        released = uow.campaigns.release(item_id, calls_made)
        uow.commit()
    return released


def close_item(ctx: ServiceContext, campaign_id: int, item_id: int, outcome: str, code: str | None) -> bool:
    """Close an item with an outcome that needs nothing else (not eligible, a rule in the way)."""
    with ctx.unit_of_work(job_of(campaign_id)) as uow:
        if not _finish(uow, item_id, outcome, code, None):
            return False
        uow.commit()
    return True


def close_unavailable(ctx: ServiceContext, campaign_id: int, item_id: int, identity_id: int,
                      error: InsiError) -> bool:
    """Close an item INSi never answered after every retry, with a worklist item to retry it later."""
    with ctx.unit_of_work(job_of(campaign_id)) as uow:
        worklist = open_item(uow, WorklistKind.INSI_UNAVAILABLE, identity_id, error.code,
                             hint=Hint.RETRY_LATER, details={"error": error.journal_code},
                             source=f"campaign:{campaign_id}")
        if not _finish(uow, item_id, "unavailable", error.journal_code, worklist):
            return False
        uow.commit()
    return True


def record_answer(ctx: ServiceContext, campaign: Campaign, item_id: int, identity_id: int,
                  answer: Any) -> bool:
    """Apply INSi's answer for an item and write its outcome in the same commit (DomainError if a rule
    refuses the answer: nothing written)."""
    source = f"campaign:{campaign.id}"
    with ctx.unit_of_work(job_of(campaign.id)) as uow:
        current = load(uow, identity_id)
        if Operation(campaign.operation) is Operation.RETRIEVE:
            assert isinstance(answer, ResolvedSearch)
            result = qualification.handle_answer(ctx, uow, current, answer, source=source,
                                                 auto_apply=campaign.auto_apply)
            outcome, code = _retrieve_outcome(result), answer.answer.code.value
            worklist = result.worklist_item_id
        else:
            ins = current.active_ins
            if ins is None:
                raise RuleViolation("ins-missing")
            verification = qualification.apply_verification(uow, current, ins, answer, source=source)
            outcome, code, worklist = verification.verdict, answer.code.value, verification.worklist_item_id
        if not _finish(uow, item_id, outcome, code, worklist):
            return False
        uow.commit()
    return True


def recover_expired_items(ctx: ServiceContext, campaign_id: int, lease_seconds: float) -> int:
    """Close the items whose lease ran out (runner dead or frozen) as ``interrupted``, each with a
    worklist item to retry it by hand: they are never sent to INSi again. How many were closed."""
    limit = ctx.now() - timedelta(seconds=lease_seconds)
    with ctx.reading() as reader:
        stale = reader.campaigns.expired(campaign_id, limit)
    return sum(_close_expired(ctx, campaign_id, item, limit) for item in stale)


def _close_expired(ctx: ServiceContext, campaign_id: int, item: ClaimedItem, limit: datetime) -> bool:
    """Close one item as interrupted, only if its lease is still expired (a heartbeat keeps it)."""
    with ctx.unit_of_work(job_of(campaign_id)) as uow:
        if not uow.campaigns.finish_expired(item.item_id, "interrupted", limit, ctx.now()):
            return False
        worklist = open_item(uow, WorklistKind.INSI_UNAVAILABLE, item.identity_id, "interrupted",
                             hint=Hint.RETRY_LATER, source=f"campaign:{campaign_id}")
        uow.campaigns.link_worklist_item(item.item_id, worklist)
        uow.commit()
    return True


def pause_for_fault(ctx: ServiceContext, campaign_id: int, reason: str) -> bool:
    """Pause a running campaign on behalf of its runner (a fault that concerns every call), audited
    like a pause by a person, with ``job:campaign-runner`` as actor; False if it was not running."""
    with ctx.unit_of_work(RUNNER) as uow:
        if not uow.campaigns.replace_status(campaign_id, CampaignStatus.RUNNING.value,
                                            CampaignStatus.PAUSED.value):
            return False
        uow.audit("campaign.pause", None, None, {"campaign": campaign_id}, reason, full=True)
        uow.commit()
    return True


def finish_if_done(ctx: ServiceContext, campaign_id: int) -> str:
    """Mark a running campaign done when every item has its outcome; its status."""
    with ctx.unit_of_work(RUNNER) as uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound(what="Campaign", ident=campaign_id)
        if campaign.status != CampaignStatus.RUNNING.value or uow.campaigns.left(campaign_id):
            return campaign.status
        uow.campaigns.set_status(campaign_id, CampaignStatus.DONE.value, finished_at=ctx.now())
        uow.commit()
    return CampaignStatus.DONE.value


def _finish(uow: UnitOfWork, item_id: int, outcome: str, code: str | None, worklist: int | None) -> bool:
    """Write an item's outcome if it is still in flight; False (to roll back) if its lease was lost."""
    if uow.campaigns.finish(item_id, outcome, code, worklist, uow.now()):
        return True
    log.warning("campaign item %s: lease lost, outcome %s not written", item_id, outcome)
    return False


def _retrieve_outcome(result: qualification.RetrievalResult) -> str:
    if result.outcome == "found" and any(c.result != "equal" for c in result.comparison):
        return "traits_differ"
    return result.outcome
