"""The inbound MLLP listener: parse, apply through the identity services, ACK after commit.

Database work runs in a thread per message (sync services), so many connections are served
concurrently. When the database is unavailable the message is answered AR (nothing stored: the
GAM may resend it); rule-breaking or unreadable messages are quarantined and answered AE.
"""

from __future__ import annotations

import asyncio
import logging

from app.config import Settings
from app.integrations.hl7.mllp import MllpServer, Peer, server_ssl_context
from app.services.context import ServiceContext
from app.wiring.hl7 import InboundPipeline
from app.workers.inbound_processes import WorkerPool

log = logging.getLogger("identito.mllp")


class InboundHandler:
    """The MLLP handler: one message in, one ACK out (bytes), after the commit.

    Messages that arrive while the database is busy wait and are then applied together, in one
    transaction (group commit, see ``inbound.apply_messages``); at most ``hl7.inbound_transactions``
    transactions run at once, each in a worker thread. A connection has at most one message in
    flight (the sender waits for its ACK), so grouping never reorders one sender's messages.

    With ``hl7.inbound_processes`` > 1, parsing and database work run in that many worker
    processes instead (one group at a time each), so that the listener uses several CPU cores;
    this event loop then only frames messages and ACKs.
    """

    def __init__(self, ctx: ServiceContext, settings: Settings) -> None:
        self.ctx, self.settings = ctx, settings
        self.pipeline = InboundPipeline(ctx, settings)
        self._waiting: list[tuple[bytes, asyncio.Future[bytes]]] = []
        self._drainers: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._pool: WorkerPool | None = None
        self._concurrency = settings.hl7.inbound_transactions
        if settings.hl7.inbound_processes > 1:
            self._pool = WorkerPool(settings, settings.hl7.inbound_processes)
            self._concurrency = settings.hl7.inbound_processes

    async def aclose(self) -> None:
        """Stop the worker processes, if any (called when the server closes)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.stop)

    async def __call__(self, raw: bytes, peer: Peer) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting.append((raw, future))
        if len(self._drainers) < self._concurrency:
            task = asyncio.create_task(self._drain())
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        return await future

    async def _drain(self) -> None:
        limit = max(1, self.settings.hl7.inbound_group_max)
        while self._waiting:
            # Threads share one core (the GIL): the fewest, biggest groups cost the least CPU.
            # Worker processes run in parallel: an even share of what waits among the idle ones.
            idle = max(1, self._concurrency - self._busy) if self._pool is not None else 1
            size = min(limit, -(-len(self._waiting) // idle))
            group, self._waiting = self._waiting[:size], self._waiting[size:]
            self._busy += 1
            raws = [raw for raw, _ in group]
            try:
                if self._pool is not None:
                    acks = await self._pool.run(raws)
                else:
                    acks = await asyncio.to_thread(self.process_many, raws)
            except Exception as exc:  # a defect: each waiting connection sees it (and is closed)
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                self._busy -= 1
            for (_, future), ack in zip(group, acks, strict=True):
                if not future.done():  # the connection may have gone meanwhile
                    future.set_result(ack)

    def process(self, raw: bytes) -> bytes:
        """Parse, apply and answer one message (runs in a worker thread)."""
        return self.pipeline.process(raw)

    def process_many(self, raws: list[bytes]) -> list[bytes]:
        """Parse, apply (one transaction when possible) and answer messages (in a worker thread)."""
        return self.pipeline.process_many(raws)


def build_server(
    ctx: ServiceContext, settings: Settings, *, host: str | None = None, port: int | None = None
) -> MllpServer:
    """The listener as configured (TLS and mutual TLS when certificate paths are set)."""
    hl7 = settings.hl7
    context = None
    if hl7.listen_tls_cert_path and hl7.listen_tls_key_path:
        context = server_ssl_context(
            hl7.listen_tls_cert_path, hl7.listen_tls_key_path, hl7.listen_tls_client_ca_path
        )
    return MllpServer(
        InboundHandler(ctx, settings),
        host or hl7.listen_host,
        hl7.listen_port if port is None else port,
        ssl_context=context,
        max_message_bytes=hl7.max_message_bytes,
        idle_timeout_seconds=hl7.idle_timeout_seconds,
    )


async def serve_mllp(
    ctx: ServiceContext,
    settings: Settings,
    stop: asyncio.Event,
    *,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Listen until ``stop`` is set."""
    server = await build_server(ctx, settings, host=host, port=port).start()
    log.info("MLLP listener on %s:%s", server.host, server.port)
    try:
        await stop.wait()
    finally:
        await server.close()
