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

The runner changes the database only through the use cases of ``app.services.campaigns`` (one
transaction each): claims, lease renewals, outcomes, items handed back, recovery, and the pause of a
campaign that a configuration fault calls for (audited, like a pause by a person).

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
from typing import Any

from app.config import QualificationSettings
from app.domain.errors import DomainError, RuleViolation
from app.domain.identity import Identity
from app.domain.insi import CallContext, CallPurpose, InsiError
from app.services import campaigns, qualification
from app.services.campaigns import Campaign, CampaignStatus, Operation
from app.services.context import ServiceContext
from app.services.identities import read_identity
from app.workers.leases import Lease, Leases
from app.workers.pacing import CircuitBreaker, RateLimiter, backoff_seconds

log = logging.getLogger("identito.campaigns")
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
        self.leases = Leases(ctx, settings.campaign_lease_seconds)

    # -- campaign level -------------------------------------------------------------------------
    def run_campaign(self, campaign_id: int, on_item: Callable[[], None] | None = None) -> str:
        """Process a campaign until it is done, paused, cancelled or the runner is stopped."""
        campaign = campaigns.campaign_to_run(self.ctx, campaign_id)
        if campaign is None:
            raise ValueError(f"campaign {campaign_id} not found")
        pacing = Pacing(RateLimiter(campaign.rate_limit),
                        CircuitBreaker(self.settings.campaign_breaker_threshold,
                                       self.settings.campaign_breaker_cooldown_seconds),
                        threading.BoundedSemaphore(campaign.concurrency))
        self.recover_interrupted(campaign_id)

        def loop() -> None:
            while self._breaker_closed(pacing.breaker):
                claim = self.claim(campaign_id)
                if claim is None:
                    return
                try:
                    finished = self.process(campaign, claim, pacing)
                finally:
                    self.leases.drop(claim.lease)
                if finished and on_item is not None:
                    on_item()

        # Twice as many threads as concurrent calls: while ``concurrency`` threads wait for INSi,
        # the others write the previous outcome and claim the next item, so the database work
        # never leaves a call slot idle. A claimed item waits at most one call for its slot.
        threads = campaign.concurrency * self.settings.campaign_threads_per_call
        prefix = f"campaign-{campaign_id}"
        with self.leases.heartbeat(), ThreadPoolExecutor(threads, thread_name_prefix=prefix) as pool:
            for future in [pool.submit(loop) for _ in range(threads)]:
                future.result()
        status = campaigns.finish_if_done(self.ctx, campaign_id)
        if self.stop.is_set() and status == CampaignStatus.RUNNING.value:
            log.info("campaign %s: stopped, unfinished items left pending", campaign_id)
        return status

    def run_forever(self) -> None:
        """Worker loop: run every running campaign, look for expired documents, then poll."""
        from app.services.worklists import scan_expired_documents

        while not self.stop.is_set():
            scan_expired_documents(self.ctx)
            for campaign_id in campaigns.running_campaigns(self.ctx):
                if self.stop.is_set():
                    break
                self.run_campaign(campaign_id)
            self.stop.wait(self.settings.worker_poll_seconds)

    def recover_interrupted(self, campaign_id: int) -> int:
        """Close items whose lease ran out (runner dead or frozen) as 'interrupted': never called again."""
        closed = campaigns.recover_expired_items(self.ctx, campaign_id, self.settings.campaign_lease_seconds)
        if closed:
            log.warning("campaign %s: %d interrupted items closed", campaign_id, closed)
        return closed

    # -- item level -----------------------------------------------------------------------------
    def claim(self, campaign_id: int) -> Claim | None:
        """Take the next pending item of a running campaign (committed before any call)."""
        started = self.leases.clock()
        item = campaigns.claim_next_item(self.ctx, campaign_id)
        if item is None:
            return None
        return Claim(item.item_id, item.identity_id, item.attempts, self.leases.hold(item.item_id, started))

    def process(self, campaign: Campaign, claim: Claim, pacing: Pacing) -> bool:
        """Call INSi for one item and write its single outcome; False if the item got none here."""
        try:
            identity = read_identity(self.ctx, claim.identity_id)
            qualification.check_eligible(identity)
        except (RuleViolation, DomainError) as exc:
            return self._close(campaign.id, claim, "not_eligible", exc.code)
        context = CallContext(requested_by=f"campaign:{campaign.id}", purpose=CallPurpose.UNATTENDED,
                              identity_id=str(identity.id))
        answer = self._call_with_retries(campaign, claim, identity, context, pacing)
        if isinstance(answer, Handled):
            return answer.finished
        try:
            written = campaigns.record_answer(self.ctx, campaign, claim.item_id, identity.id, answer)
            return self._written(claim, written)
        except DomainError as exc:
            return self._close(campaign.id, claim, "rule_conflict", exc.code)

    def _call_with_retries(self, campaign: Campaign, claim: Claim, identity: Identity, context: CallContext,
                           pacing: Pacing) -> Any:
        """The answer, or Handled when the item was closed, put back to pending or lost instead."""
        search = (qualification.search_identity if campaign.operation == Operation.RETRIEVE.value
                  else qualification.verification_search)
        attempts = claim.attempts  # the number of the next call, counted in the item since its claim
        while True:
            result = self._call_once(claim.lease, pacing, lambda: search(self.ctx, identity, context))
            if result is _STOPPED:
                return self._release(claim, attempts - 1)
            if not isinstance(result, InsiError):
                return result
            if not result.retryable:
                return self._requeue_and_pause(campaign.id, claim, result, attempts)
            if attempts >= self.settings.campaign_max_attempts:
                return self._unavailable(campaign.id, claim, result)
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
        closed = campaigns.close_unavailable(self.ctx, campaign_id, claim.item_id, claim.identity_id, error)
        return Handled(self._written(claim, closed))

    def _requeue_and_pause(self, campaign_id: int, claim: Claim, error: InsiError, attempts: int) -> Handled:
        """A configuration error concerns every call: pause the campaign, keep the item pending."""
        log.error("campaign %s paused: INSi configuration error %s", campaign_id, error.journal_code)
        self._release(claim, attempts)
        campaigns.pause_for_fault(self.ctx, campaign_id, error.journal_code)
        return Handled(False)

    def _close(self, campaign_id: int, claim: Claim, outcome: str, code: str | None) -> bool:
        return self._written(claim, campaigns.close_item(self.ctx, campaign_id, claim.item_id, outcome, code))

    @staticmethod
    def _written(claim: Claim, written: bool) -> bool:
        """Whether the item's outcome was written; if not, its lease was lost (nothing else is done)."""
        if not written:
            claim.lease.lost = True
        return written
