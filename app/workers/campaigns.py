"""Campaign runner: claims items, calls INSi (INSI-AUTO) paced and retried, applies each outcome.

Crash safety: an item is marked in flight (committed) before its INSi call, and its outcome is
written in the same commit as what the answer implies. After a crash, an item still in flight once
its lease has run out is closed as ``interrupted`` (with a worklist item to retry it by hand)
instead of being called again: no identity is ever sent to INSi twice by a campaign.

Leases (app/workers/leases.py): a runner renews the lease of every item it holds from a heartbeat
thread, whatever the item waits for, so only a dead or frozen runner's items expire. We chose the
heartbeat over claiming an item only once a call slot is free and the breaker closed: claiming
ahead keeps every call slot busy while other threads write outcomes (docs/performance.md), and an
item being retried is held across its backoff and the breaker's cooldown anyway, which only a
heartbeat covers. From the other approach we keep that no thread claims a new item while the breaker
is open, so an open breaker holds no more items than were in hand when it opened.

A claim is checked before each call (a lease half expired is renewed first) and in the transaction
that writes the outcome (the item must still be in flight; only its owner, or the recovery of an
expired lease, moves it out of that state): a runner that lost its lease drops the item without
calling INSi, applying an outcome or opening a worklist item.

Stop (SIGINT, SIGTERM): no new call starts (a stop never bypasses the breaker), calls already on
the wire finish and their answers are written, and every other held item goes back to pending with
the number of calls it had, so that a later run of any runner resumes it. A stopped campaign stays
``running`` unless every item has its outcome.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from app.workers.leases import Lease, Leases
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
    .where(ITEM.c.id == bindparam("item"), ITEM.c.state == "in_flight")
    .values(state="done", outcome=bindparam("outcome"), code=bindparam("code"),
            worklist_item_id=bindparam("worklist"), finished_at=bindparam("now"))
)
_STOPPED = object()  # a call not made: the runner is stopping or lost the item's lease


@dataclass(frozen=True)
class Claim:
    """An item this worker is processing."""

    item_id: int
    identity_id: int
    attempts: int
    lease: Lease


@dataclass(frozen=True)
class Handled:
    """An item dealt with without an answer: closed (``finished``), or back to pending, or lost."""

    finished: bool


@dataclass(frozen=True)
class Pacing:
    """What paces a campaign's calls: start rate, circuit breaker, concurrent call slots."""

    limiter: RateLimiter
    breaker: CircuitBreaker
    calls: threading.BoundedSemaphore


class CampaignRunner:
    """Runs campaigns; several runners may share a PostgreSQL database."""

    def __init__(self, ctx: ServiceContext, settings: QualificationSettings) -> None:
        self.ctx, self.settings = ctx, settings
        self.stop = threading.Event()
        self.leases = Leases(ctx.engine, settings.campaign_lease_seconds, ctx.now)

    # -- campaign level -------------------------------------------------------------------------
    def run_campaign(self, campaign_id: int, on_item: Callable[[], None] | None = None) -> str:
        """Process a campaign until it is done, paused, cancelled or the runner is stopped."""
        with Session(self.ctx.engine) as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                raise ValueError(f"campaign {campaign_id} not found")
            concurrency, operation, auto_apply = row.concurrency, Operation(row.operation), row.auto_apply
            pacing = Pacing(RateLimiter(row.rate_limit),
                            CircuitBreaker(self.settings.campaign_breaker_threshold,
                                           self.settings.campaign_breaker_cooldown_seconds),
                            threading.BoundedSemaphore(concurrency))
        self.recover_interrupted(campaign_id)
        job = _job(campaign_id)

        def loop() -> None:
            while self._breaker_closed(pacing.breaker):
                claim = self.claim(campaign_id)
                if claim is None:
                    return
                try:
                    finished = self.process(campaign_id, claim, operation, auto_apply, job, pacing)
                finally:
                    self.leases.drop(claim.lease)
                if finished and on_item is not None:
                    on_item()

        # Twice as many threads as concurrent calls: while ``concurrency`` threads wait for INSi,
        # the others write the previous outcome and claim the next item, so the database work
        # never leaves a call slot idle. A claimed item waits at most one call for its slot.
        threads = concurrency * self.settings.campaign_threads_per_call
        prefix = f"campaign-{campaign_id}"
        with self.leases.heartbeat(), ThreadPoolExecutor(threads, thread_name_prefix=prefix) as pool:
            for future in [pool.submit(loop) for _ in range(threads)]:
                future.result()
        status = self.finish_if_done(campaign_id)
        if self.stop.is_set() and status == CampaignStatus.RUNNING.value:
            log.info("campaign %s: stopped, unfinished items left pending", campaign_id)
        return status

    def run_forever(self) -> None:
        """Worker loop: run every running campaign, look for expired documents, then poll."""
        from app.services.worklists import scan_expired_documents

        while not self.stop.is_set():
            scan_expired_documents(self.ctx)
            with Session(self.ctx.engine) as session:
                running = session.execute(select(CampaignRow.id).where(
                    CampaignRow.status == CampaignStatus.RUNNING.value).order_by(col(CampaignRow.id))
                ).scalars().all()
            for campaign_id in running:
                if self.stop.is_set():
                    break
                self.run_campaign(campaign_id)
            self.stop.wait(self.settings.worker_poll_seconds)

    def recover_interrupted(self, campaign_id: int) -> int:
        """Close items whose lease ran out (runner dead or frozen) as 'interrupted': never called again."""
        limit = self.ctx.now() - timedelta(seconds=self.settings.campaign_lease_seconds)
        with Session(self.ctx.engine) as session:
            stale = session.execute(select(CampaignItemRow.id, CampaignItemRow.identity_id).where(
                CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.state == "in_flight",
                col(CampaignItemRow.claimed_at) < limit)).all()
        closed = sum(self._close_expired(campaign_id, item, identity, limit) for item, identity in stale)
        if closed:
            log.warning("campaign %s: %d interrupted items closed", campaign_id, closed)
        return closed

    def _close_expired(self, campaign_id: int, item_id: int, identity_id: int, limit: datetime) -> bool:
        """Close one item as interrupted, only if its lease is still expired (a heartbeat keeps it)."""
        with self.ctx.unit_of_work(_job(campaign_id)) as uow:
            expired = uow.session.connection().execute(_FINISH.where(ITEM.c.claimed_at < limit), {
                "item": item_id, "outcome": "interrupted", "code": None, "worklist": None,
                "now": self.ctx.now()})
            if not expired.rowcount:
                return False
            worklist = open_item(uow, WorklistKind.INSI_UNAVAILABLE, identity_id, "interrupted",
                                 hint=Hint.RETRY_LATER, source=f"campaign:{campaign_id}")
            uow.session.connection().execute(
                update(ITEM).where(ITEM.c.id == item_id).values(worklist_item_id=worklist))
            uow.commit()
        return True

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
        started = self.leases.clock()
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
        if row is None:
            return None
        return Claim(row[0], row[1], row[2], self.leases.hold(row[0], started))

    def process(self, campaign_id: int, claim: Claim, operation: Operation, auto_apply: bool, job: Actor,
                pacing: Pacing) -> bool:
        """Call INSi for one item and write its single outcome; False if the item got none here."""
        source = f"campaign:{campaign_id}"
        try:
            identity = read_identity(self.ctx, claim.identity_id)
            qualification.check_eligible(identity)
        except (RuleViolation, DomainError) as exc:
            return self._close(claim, "not_eligible", exc.code)
        context = CallContext(requested_by=source, purpose=CallPurpose.UNATTENDED,
                              identity_id=str(identity.id))
        answer = self._call_with_retries(campaign_id, claim, identity, operation, context, pacing)
        if isinstance(answer, Handled):
            return answer.finished
        try:
            with self.ctx.unit_of_work(job) as uow:
                current = load(uow, identity.id)
                if operation is Operation.RETRIEVE:
                    assert isinstance(answer, ResolvedSearch)
                    result = qualification.handle_answer(self.ctx, uow, current, answer, source=source,
                                                         auto_apply=auto_apply)
                    outcome = _retrieve_outcome(result)
                    code, worklist = answer.answer.code.value, result.worklist_item_id
                else:
                    ins = current.active_ins
                    if ins is None:
                        raise RuleViolation("ins-missing")
                    verification = qualification.apply_verification(uow, current, ins, answer, source=source)
                    outcome, code = verification.verdict, answer.code.value
                    worklist = verification.worklist_item_id
                if not self._finish(uow.session, claim, outcome, code, worklist):
                    return False
                uow.commit()
                return True
        except DomainError as exc:
            return self._close(claim, "rule_conflict", exc.code)

    def _call_with_retries(self, campaign_id: int, claim: Claim, identity: Identity, operation: Operation,
                           context: CallContext, pacing: Pacing) -> Any:
        """The answer, or Handled when the item was closed, put back to pending or lost instead."""
        search = (qualification.search_identity if operation is Operation.RETRIEVE
                  else qualification.verification_search)
        attempts = claim.attempts  # the number of the next call, counted in the item since its claim
        while True:
            result = self._call_once(claim.lease, pacing, lambda: search(self.ctx, identity, context))
            if result is _STOPPED:
                return self._release(claim, attempts - 1)
            if not isinstance(result, InsiError):
                return result
            if not result.retryable:
                return self._requeue_and_pause(campaign_id, claim, result, attempts)
            if attempts >= self.settings.campaign_max_attempts:
                return self._unavailable(campaign_id, claim, result)
            attempts += 1
            if not self.leases.count_attempt(claim.lease, attempts):
                return Handled(False)
            backoff = backoff_seconds(attempts - 1, base=self.settings.campaign_backoff_base_seconds,
                                      cap=self.settings.campaign_backoff_cap_seconds)
            if not self._pause(claim.lease, backoff):
                return self._release(claim, attempts - 1)

    def _call_once(self, lease: Lease, pacing: Pacing, call: Callable[[], Any]) -> Any:
        """One call once a slot, the breaker and the rate limiter allow it (_STOPPED if halted first)."""
        breaker = pacing.breaker
        while not pacing.calls.acquire(timeout=0.25):
            if self._halted(lease):
                return _STOPPED
        try:
            while (wait := breaker.wait_seconds()) > 0:
                if not self._pause(lease, min(wait, 1.0)):
                    return _STOPPED
            # Last checks before the wire: not stopping, and the item is still ours.
            if not pacing.limiter.acquire(lambda: self._halted(lease)) or self.stop.is_set() \
                    or not self.leases.valid(lease):
                breaker.cancel_trial()
                return _STOPPED
            try:
                result = call()
            except InsiError as error:
                if error.retryable:
                    breaker.failure()
                else:
                    breaker.cancel_trial()
                return error
            breaker.success()
            return result
        finally:
            pacing.calls.release()

    def _halted(self, lease: Lease) -> bool:
        return self.stop.is_set() or lease.lost

    def _pause(self, lease: Lease, seconds: float) -> bool:
        """Wait, unless the runner stops or the lease is lost (False then)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stop.wait(min(left, 0.2)) or lease.lost:
                return False
        return not self._halted(lease)

    def _breaker_closed(self, breaker: CircuitBreaker) -> bool:
        """Wait while the breaker is open before claiming another item; False once stopped."""
        while (wait := breaker.blocked_seconds()) > 0:
            if self.stop.wait(min(wait, 1.0)):
                return False
        return not self.stop.is_set()

    def _release(self, claim: Claim, calls_made: int) -> Handled:
        """Put an item back to pending for a later run, with the calls it had (nothing if lost)."""
        self.leases.release(claim.lease, calls_made)
        return Handled(False)

    def _unavailable(self, campaign_id: int, claim: Claim, error: InsiError) -> Handled:
        with self.ctx.unit_of_work(_job(campaign_id)) as uow:
            worklist = open_item(uow, WorklistKind.INSI_UNAVAILABLE, claim.identity_id, error.code,
                                 hint=Hint.RETRY_LATER, details={"error": error.journal_code},
                                 source=f"campaign:{campaign_id}")
            if not self._finish(uow.session, claim, "unavailable", error.journal_code, worklist):
                return Handled(False)
            uow.commit()
        return Handled(True)

    def _requeue_and_pause(self, campaign_id: int, claim: Claim, error: InsiError, attempts: int) -> Handled:
        """A configuration error concerns every call: pause the campaign, keep the item pending."""
        log.error("campaign %s paused: INSi configuration error %s", campaign_id, error.journal_code)
        self._release(claim, attempts)
        with Session(self.ctx.engine) as session:
            session.execute(update(CampaignRow).where(CampaignRow.id == campaign_id,
                                                      CampaignRow.status == CampaignStatus.RUNNING.value)
                            .values(status=CampaignStatus.PAUSED.value))
            session.commit()
        return Handled(False)

    def _close(self, claim: Claim, outcome: str, code: str | None) -> bool:
        with Session(self.ctx.engine) as session:
            if not self._finish(session, claim, outcome, code, None):
                return False
            session.commit()
            return True

    def _finish(self, session: Session, claim: Claim, outcome: str, code: str | None,
                worklist: int | None) -> bool:
        """Write the item's outcome if it is still in flight; False (to roll back) if its lease was lost."""
        done = session.connection().execute(_FINISH, {
            "item": claim.item_id, "outcome": outcome, "code": code, "worklist": worklist,
            "now": self.ctx.now()})
        if not done.rowcount:
            claim.lease.lost = True
            log.warning("campaign item %s: lease lost, outcome %s not written", claim.item_id, outcome)
        return bool(done.rowcount)


def _job(campaign_id: int) -> Actor:
    return Actor(f"campaign:{campaign_id}", frozenset({"identitovigilance"}), kind="job")


def _retrieve_outcome(result: qualification.RetrievalResult) -> str:
    if result.outcome == "found" and any(c.result != "equal" for c in result.comparison):
        return "traits_differ"
    return result.outcome
