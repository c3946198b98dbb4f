"""Campaign runner: claims items, calls INSi (INSI-AUTO) paced and retried, applies each outcome.

Crash safety: an item is marked in flight (committed) before its INSi call, and its outcome is
written in the same commit as what the answer implies. After a crash, an item still in flight once
its lease has run out is closed as ``interrupted`` (with a worklist item to retry it by hand)
instead of being called again: no identity is ever sent to INSi twice by a campaign.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session, col

from app.config import QualificationSettings
from app.db.tables import CampaignItemRow, CampaignRow
from app.domain.errors import DomainError, RuleViolation
from app.domain.identity import Identity
from app.domain.insi import CallContext, CallPurpose, InsiError, ResolvedSearch
from app.domain.worklist import Hint, WorklistKind
from app.services import qualification
from app.services.campaigns import CampaignStatus, Operation
from app.services.context import Actor, ServiceContext
from app.services.identities import load, read_identity
from app.services.worklists import open_item
from app.workers.pacing import CircuitBreaker, RateLimiter, backoff_seconds

log = logging.getLogger("identito.campaigns")
ITEM = CampaignItemRow.__table__  # type: ignore[attr-defined]
CAMPAIGN = CampaignRow.__table__  # type: ignore[attr-defined]
# Statements built once: each item runs them, and building them cost more CPU than running them.
_NEXT_PENDING = (
    select(ITEM.c.id)
    .where(ITEM.c.campaign_id == bindparam("campaign"), ITEM.c.state == "pending")
    .order_by(ITEM.c.id)
    .limit(1)
)
_CAMPAIGN_RUNNING = (
    select(CAMPAIGN.c.status).where(CAMPAIGN.c.id == bindparam("campaign")).scalar_subquery()
    == CampaignStatus.RUNNING.value
)
_FINISH = (
    update(ITEM)
    .where(ITEM.c.id == bindparam("item"), ITEM.c.state == bindparam("expected"))
    .values(state="done", outcome=bindparam("outcome"), code=bindparam("code"),
            worklist_item_id=bindparam("worklist"), finished_at=bindparam("now"))
)


@dataclass(frozen=True)
class Claim:
    """An item this worker is processing."""

    item_id: int
    identity_id: int
    attempts: int


@dataclass(frozen=True)
class Pacing:
    """What paces a campaign's calls: start rate, circuit breaker, concurrent call slots."""

    limiter: RateLimiter
    breaker: CircuitBreaker
    calls: threading.BoundedSemaphore


class CampaignRunner:
    """Runs campaigns; several runners may share a PostgreSQL database."""

    def __init__(self, ctx: ServiceContext, settings: QualificationSettings, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ctx, self.settings, self.sleep = ctx, settings, sleep
        self.stop = threading.Event()

    # -- campaign level -------------------------------------------------------------------------
    def run_campaign(self, campaign_id: int, on_item: Callable[[], None] | None = None) -> str:
        """Process a campaign until it is done, paused, cancelled or the runner is stopped."""
        with Session(self.ctx.engine) as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                raise ValueError(f"campaign {campaign_id} not found")
            rate = row.rate_limit if row.rate_limit is not None else None
            concurrency, operation = row.concurrency, Operation(row.operation)
            auto_apply = row.auto_apply
        self.recover_interrupted(campaign_id)
        pacing = Pacing(
            RateLimiter(rate),
            CircuitBreaker(self.settings.campaign_breaker_threshold, self.settings.campaign_breaker_cooldown_seconds),
            threading.BoundedSemaphore(concurrency),
        )
        job = Actor(f"campaign:{campaign_id}", frozenset({"identitovigilance"}), kind="job")

        def loop() -> None:
            while not self.stop.is_set():
                claim = self.claim(campaign_id)
                if claim is None:
                    return
                self.process(campaign_id, claim, operation, auto_apply, job, pacing)
                if on_item is not None:
                    on_item()

        # Twice as many threads as concurrent calls: while ``concurrency`` threads wait for INSi,
        # the others write the previous outcome and claim the next item, so the database work
        # never leaves a call slot idle. A claimed item waits at most one call for its slot.
        threads = concurrency * self.settings.campaign_threads_per_call
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"campaign-{campaign_id}") as pool:
            for future in [pool.submit(loop) for _ in range(threads)]:
                future.result()
        return self.finish_if_done(campaign_id)

    def run_forever(self) -> None:
        """Worker loop: run every running campaign, look for expired documents, then poll."""
        from app.services.worklists import scan_expired_documents

        while not self.stop.is_set():
            scan_expired_documents(self.ctx)
            with Session(self.ctx.engine) as session:
                running = session.execute(select(CampaignRow.id).where(
                    CampaignRow.status == CampaignStatus.RUNNING.value).order_by(col(CampaignRow.id))).scalars().all()
            for campaign_id in running:
                self.run_campaign(campaign_id)
            self.stop.wait(self.settings.worker_poll_seconds)

    def recover_interrupted(self, campaign_id: int) -> int:
        """Close items whose worker died mid-call as 'interrupted' (never called again)."""
        limit = self.ctx.now() - timedelta(seconds=self.settings.campaign_lease_seconds)
        job = Actor(f"campaign:{campaign_id}", frozenset({"identitovigilance"}), kind="job")
        with Session(self.ctx.engine) as session:
            stale = session.execute(select(CampaignItemRow.id, CampaignItemRow.identity_id).where(
                CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.state == "in_flight",
                col(CampaignItemRow.claimed_at) < limit)).all()
        for item_id, identity_id in stale:
            with self.ctx.unit_of_work(job) as uow:
                worklist = open_item(uow, WorklistKind.INSI_UNAVAILABLE, identity_id, "interrupted",
                                     hint=Hint.RETRY_LATER, source=f"campaign:{campaign_id}")
                if self._finish(uow.session, item_id, "interrupted", None, worklist, expect_state="in_flight"):
                    uow.commit()
        if stale:
            log.warning("campaign %s: %d interrupted items closed", campaign_id, len(stale))
        return len(stale)

    def finish_if_done(self, campaign_id: int) -> str:
        """Mark the campaign done when no item is left; return its status."""
        with Session(self.ctx.engine) as session:
            row = session.get(CampaignRow, campaign_id, with_for_update=True)
            assert row is not None
            left = session.execute(select(func.count()).where(
                CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.state != "done")).scalar_one()
            if row.status == CampaignStatus.RUNNING.value and left == 0:
                row.status, row.finished_at = CampaignStatus.DONE.value, self.ctx.now()
                session.add(row)
                session.commit()
            return row.status

    # -- item level -----------------------------------------------------------------------------
    def claim(self, campaign_id: int) -> Claim | None:
        """Take the next pending item of a running campaign (committed before any call).

        One statement: the campaign's status is checked in the UPDATE itself (a paused or
        cancelled campaign yields nothing, like an exhausted one).
        """
        with self.ctx.engine.begin() as connection:
            nxt = _NEXT_PENDING
            if connection.dialect.name == "postgresql":
                nxt = nxt.with_for_update(skip_locked=True)
            row = connection.execute(
                update(ITEM)
                .where(ITEM.c.id == nxt.scalar_subquery(), ITEM.c.state == "pending", _CAMPAIGN_RUNNING)
                .values(state="in_flight", claimed_at=bindparam("now"), attempts=ITEM.c.attempts + 1)
                .returning(ITEM.c.id, ITEM.c.identity_id, ITEM.c.attempts),
                {"campaign": campaign_id, "now": self.ctx.now()},
            ).first()
        return Claim(row[0], row[1], row[2]) if row is not None else None

    def process(self, campaign_id: int, claim: Claim, operation: Operation, auto_apply: bool, job: Actor,
                pacing: Pacing) -> None:
        """Call INSi for one item and write its single outcome."""
        source = f"campaign:{campaign_id}"
        try:
            identity = read_identity(self.ctx, claim.identity_id)
            qualification.check_eligible(identity)
        except (RuleViolation, DomainError) as exc:
            self._close(claim, "not_eligible", exc.code)
            return
        context = CallContext(requested_by=source, purpose=CallPurpose.UNATTENDED, identity_id=str(identity.id))
        answer = self._call_with_retries(campaign_id, claim, identity, operation, context, pacing)
        if answer is None:
            return
        try:
            with self.ctx.unit_of_work(job) as uow:
                current = load(uow, identity.id)
                if operation is Operation.RETRIEVE:
                    assert isinstance(answer, ResolvedSearch)
                    result = qualification.handle_answer(uow, current, answer, source=source, auto_apply=auto_apply)
                    outcome = _retrieve_outcome(result)
                    code, worklist = answer.answer.code.value, result.worklist_item_id
                else:
                    ins = current.active_ins
                    if ins is None:
                        raise RuleViolation("ins-missing")
                    verification = qualification.apply_verification(uow, current, ins, answer, source=source)
                    outcome, code, worklist = verification.verdict, answer.code.value, verification.worklist_item_id
                self._finish(uow.session, claim.item_id, outcome, code, worklist)
                uow.commit()
        except DomainError as exc:
            self._close(claim, "rule_conflict", exc.code)

    def _call_with_retries(self, campaign_id: int, claim: Claim, identity: Identity, operation: Operation,
                           context: CallContext, pacing: Pacing):  # type: ignore[no-untyped-def]
        attempts, breaker = claim.attempts, pacing.breaker
        while True:
            self._wait_for(breaker)
            try:
                with pacing.calls:  # a call slot, then the rate limiter's start time
                    pacing.limiter.acquire()
                    if operation is Operation.RETRIEVE:
                        result = qualification.search_identity(self.ctx, identity, context)
                    else:
                        result = qualification.verification_search(self.ctx, identity, context)
                breaker.success()
                return result
            except InsiError as error:
                if not error.retryable:
                    self._requeue_and_pause(campaign_id, claim, error)
                    return None
                breaker.failure()
                if attempts >= self.settings.campaign_max_attempts:
                    self._unavailable(campaign_id, claim, error)
                    return None
                attempts += 1
                self._heartbeat(claim.item_id, attempts)
                self.sleep(backoff_seconds(attempts - 1, base=self.settings.campaign_backoff_base_seconds,
                                           cap=self.settings.campaign_backoff_cap_seconds))

    def _wait_for(self, breaker: CircuitBreaker) -> None:
        while (wait := breaker.wait_seconds()) > 0 and not self.stop.is_set():
            self.sleep(min(wait, 1.0))

    def _heartbeat(self, item_id: int, attempts: int) -> None:
        with Session(self.ctx.engine) as session:
            session.execute(update(CampaignItemRow).where(CampaignItemRow.id == item_id).values(
                claimed_at=self.ctx.now(), attempts=attempts))
            session.commit()

    def _unavailable(self, campaign_id: int, claim: Claim, error: InsiError) -> None:
        job = Actor(f"campaign:{campaign_id}", frozenset({"identitovigilance"}), kind="job")
        with self.ctx.unit_of_work(job) as uow:
            worklist = open_item(uow, WorklistKind.INSI_UNAVAILABLE, claim.identity_id, error.code,
                                 hint=Hint.RETRY_LATER, details={"error": error.journal_code},
                                 source=f"campaign:{campaign_id}")
            self._finish(uow.session, claim.item_id, "unavailable", error.journal_code, worklist)
            uow.commit()

    def _requeue_and_pause(self, campaign_id: int, claim: Claim, error: InsiError) -> None:
        """A configuration error concerns every call: pause the campaign, keep the item pending."""
        log.error("campaign %s paused: INSi configuration error %s", campaign_id, error.journal_code)
        with Session(self.ctx.engine) as session:
            session.execute(update(CampaignItemRow).where(CampaignItemRow.id == claim.item_id).values(
                state="pending", claimed_at=None))
            session.execute(update(CampaignRow).where(CampaignRow.id == campaign_id,
                                                      CampaignRow.status == CampaignStatus.RUNNING.value)
                            .values(status=CampaignStatus.PAUSED.value))
            session.commit()

    def _close(self, claim: Claim, outcome: str, code: str | None) -> None:
        with Session(self.ctx.engine) as session:
            self._finish(session, claim.item_id, outcome, code, None)
            session.commit()

    def _finish(self, session: Session, item_id: int, outcome: str, code: str | None, worklist: int | None,
                expect_state: str = "in_flight") -> bool:
        done = session.connection().execute(_FINISH, {
            "item": item_id, "expected": expect_state, "outcome": outcome, "code": code,
            "worklist": worklist, "now": self.ctx.now()})
        return bool(done.rowcount)


def _retrieve_outcome(result: qualification.RetrievalResult) -> str:
    if result.outcome == "found" and any(c.result != "equal" for c in result.comparison):
        return "traits_differ"
    return result.outcome
