"""The outbox relay: claims stream heads, delivers them over MLLP, records the outcome.

Each cycle claims a batch (only the head of each (subscriber, identity) stream, so per-identity
order holds), spreads each subscriber's rows over a few persistent MLLP connections, waits for
every ACK (with a timeout) and records the outcomes in one transaction: AA/CA -> done; AR,
timeout or connection error -> retry with exponential backoff; AE -> retry a bounded number of
times, then dead letter (which blocks that identity's stream for that subscriber only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db.errors import DatabaseUnavailable
from app.integrations.hl7.errors import AckError, MllpError, NegativeAck
from app.integrations.hl7.mllp import MllpClient, client_ssl_context
from app.services import delivery
from app.services.context import ServiceContext
from app.services.delivery import Claimed, Failure, RetryPolicy, Subscriber
from app.workers.render import render

log = logging.getLogger("identito.relay")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Relay:
    """One relay process (several may run on PostgreSQL)."""

    def __init__(
        self,
        ctx: ServiceContext,
        settings: Settings,
        *,
        relay_id: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        hl7 = settings.hl7
        self.ctx, self.settings, self.clock = ctx, settings, clock
        self.relay_id = relay_id or f"{socket.gethostname()}:{os.getpid()}"
        self.policy = RetryPolicy(
            hl7.retry_base_seconds, hl7.retry_max_seconds, hl7.max_error_attempts, hl7.lease_seconds
        )
        self.counters: Counter[str] = Counter()
        self._send_until = 0.0
        self._pools: dict[int, tuple[tuple[object, ...], list[MllpClient]]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; idle briefly when nothing is claimable.

        A lost database (down, connection reset, failover) does not end the relay: the cycle is
        abandoned (rows it delivered but could not record stay leased, and are delivered again
        with the same MSH-10 once the lease ends) and tried again after a pause, growing up to
        ``retry_max_seconds``, until the database answers again.
        """
        hl7 = self.settings.hl7
        pause = hl7.retry_base_seconds
        started = False
        try:
            while not stop.is_set():
                try:
                    if not started:
                        await asyncio.to_thread(delivery.release_stale_leases, self.ctx, self.relay_id)
                        started = True
                    attempted = await self.run_once()
                    pause = hl7.retry_base_seconds
                except DatabaseUnavailable as exc:
                    self.counters["database_unavailable"] += 1
                    log.warning("relay %s: database unavailable (%s), next try in %.1f s",
                                self.relay_id, exc, pause)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
                    pause = min(max(pause, 0.05) * 2, hl7.retry_max_seconds)
                    continue
                if attempted == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), hl7.relay_idle_seconds)
        finally:
            await self.close()
            try:
                await asyncio.to_thread(delivery.release_leases, self.ctx, self.relay_id)
            except DatabaseUnavailable:  # the leases end by themselves
                log.warning("relay %s: database unavailable at stop, leases left to expire", self.relay_id)

    async def run_once(self) -> int:
        """One cycle: claim, deliver, record. Returns how many rows were attempted."""
        hl7 = self.settings.hl7
        claimed = await asyncio.to_thread(
            delivery.claim, self.ctx, self.relay_id, self.clock(), hl7.relay_batch_size, hl7.lease_seconds
        )
        if not claimed:
            return 0
        # Stop sending before the lease can expire: another relay may then take the rows over.
        self._send_until = (
            time.monotonic() + hl7.lease_seconds - hl7.ack_timeout_seconds - hl7.connect_timeout_seconds
        )
        wanted = {c.subscriber_id for c in claimed}
        subscribers = await asyncio.to_thread(delivery.recipients, self.ctx, wanted)
        by_subscriber: dict[int, list[Claimed]] = {}
        for row in claimed:
            by_subscriber.setdefault(row.subscriber_id, []).append(row)
        outcomes = await asyncio.gather(
            *(self._deliver_all(subscribers[sid], rows) for sid, rows in by_subscriber.items())
        )
        done = [i for result in outcomes for i in result[0]]
        failures = [f for result in outcomes for f in result[1]]
        await asyncio.to_thread(self._record, done, failures)
        return len(claimed)

    def _record(self, done: list[int], failures: list[Failure]) -> None:
        now = self.clock()
        given_back = [f.id for f in failures if isinstance(f, _NotAttempted)]
        failures = [f for f in failures if not isinstance(f, _NotAttempted)]
        dead = delivery.record(
            self.ctx, self.relay_id, now, self.policy, done=done, given_back=given_back, failures=failures
        )
        self.counters["delivered"] += len(done)
        self.counters["failed"] += len(failures)
        self.counters["dead"] += len(dead)
        for row_id in dead:
            log.warning("outbox message %s is now a dead letter", row_id)

    def _pool(self, subscriber: Subscriber) -> list[MllpClient]:
        hl7 = self.settings.hl7
        key = (subscriber.host, subscriber.port, subscriber.tls)
        current = self._pools.get(subscriber.id)
        if current is not None and current[0] == key:
            return current[1]
        context = (
            client_ssl_context(hl7.relay_tls_ca_path, hl7.relay_tls_cert_path, hl7.relay_tls_key_path)
            if subscriber.tls
            else None
        )
        clients = [
            MllpClient(
                subscriber.host,
                subscriber.port,
                ssl_context=context,
                connect_timeout_seconds=hl7.connect_timeout_seconds,
                ack_timeout_seconds=hl7.ack_timeout_seconds,
                max_message_bytes=hl7.max_message_bytes,
            )
            for _ in range(max(1, hl7.relay_connections_per_subscriber))
        ]
        self._pools[subscriber.id] = (key, clients)
        return clients

    async def _deliver_all(
        self, subscriber: Subscriber, rows: list[Claimed]
    ) -> tuple[list[int], list[Failure]]:
        clients = self._pool(subscriber)
        lanes = [rows[i :: len(clients)] for i in range(len(clients))]
        results = await asyncio.gather(
            *(self._lane(c, subscriber, lane) for c, lane in zip(clients, lanes, strict=True))
        )
        return [i for r in results for i in r[0]], [f for r in results for f in r[1]]

    async def _lane(
        self, client: MllpClient, subscriber: Subscriber, rows: list[Claimed]
    ) -> tuple[list[int], list[Failure]]:
        done: list[int] = []
        failures: list[Failure] = []
        for index, row in enumerate(rows):
            if time.monotonic() > self._send_until:
                failures += [_NotAttempted(r.id, "lease ending", False) for r in rows[index:]]
                break
            failure = await self._deliver(client, subscriber, row)
            if failure is None:
                done.append(row.id)
                continue
            failures.append(failure)
            if not isinstance(failure, _AckFailure):  # the receiver is unreachable: stop this lane
                failures += [Failure(r.id, failure.reason, False) for r in rows[index + 1 :]]
                break
        return done, failures

    async def _deliver(self, client: MllpClient, subscriber: Subscriber, row: Claimed) -> Failure | None:
        try:
            message = render(
                row, subscriber, self.settings.hl7, self.settings.ipp_namespace, self.settings.ipp_oid
            )
        except (KeyError, ValueError, TypeError) as exc:
            log.error("outbox message %s cannot be rendered: %s", row.id, type(exc).__name__)
            return _AckFailure(row.id, f"render: {type(exc).__name__}", True)
        try:
            await client.deliver(message, str(row.id))
        except NegativeAck as exc:
            return _AckFailure(row.id, f"{exc.ack_code}: {exc.text[:200]}", isinstance(exc, AckError))
        except MllpError as exc:
            return Failure(row.id, f"{type(exc).__name__}: {exc}"[:300], False)
        return None

    async def close(self) -> None:
        """Close every MLLP connection."""
        for _, clients in self._pools.values():
            for client in clients:
                await client.close()
        self._pools.clear()


class _AckFailure(Failure):
    """A failure answered by the receiver (the connection is still usable)."""


class _NotAttempted(Failure):
    """A row left unsent because its lease was ending: given back as is."""
