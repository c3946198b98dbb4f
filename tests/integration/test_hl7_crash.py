"""Crash tests on both engines: a relay SIGKILLed in the middle of a burst, a listener that dies
between commit and ACK. Afterwards every message acknowledged to the GAM reached the subscriber,
per-identity order held, and duplicates carried the same MSH-10.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow
from app.integrations.hl7.errors import MllpDropped
from app.integrations.hl7.mllp import MllpClient, MllpServer
from app.integrations.hl7.parse import parse_ack, parse_pam
from app.workers.mllp_listener import InboundHandler, build_server
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import subscriber
from tests.integration.test_hl7_inbound import pam
from tests.integration.test_hl7_relay_faults import check_delivery, rows

ROOT = Path(__file__).resolve().parents[2]


class ThreadedReceiver:
    """A fake downstream application on its own event loop thread (the relay is another process)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.receiver = FakeReceiver(lambda _m, _i: "slow", slow_seconds=0.02)
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def relay_process(settings) -> subprocess.Popen:
    """`identito relay` from this worktree, with fast retry settings."""
    env = {
        **os.environ,
        "IDENTITO_DATABASE_URL": settings.database_url,
        "IDENTITO_ENVIRONMENT": "development",
        "IDENTITO_AUTH__SECRET": settings.auth.secret,
        "IDENTITO_AUTH__DEV_TOKENS": "true",
        "IDENTITO_HL7__LEASE_SECONDS": "2",
        "IDENTITO_HL7__CONNECT_TIMEOUT_SECONDS": "0.5",
        "IDENTITO_HL7__RETRY_BASE_SECONDS": "0.05",
        "IDENTITO_HL7__RETRY_MAX_SECONDS": "0.2",
        "IDENTITO_HL7__RELAY_BATCH_SIZE": "20",
        "IDENTITO_HL7__ACK_TIMEOUT_SECONDS": "0.5",
        "IDENTITO_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "relay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def gam_burst(ctx, settings, identities: int = 12, updates: int = 4) -> list[bytes]:
    """The GAM sends creations and updates; returns the messages acknowledged AA."""
    messages = [
        pam(f"G{n}-{k}", ipp=f"{n:04d}", used=f"NOM{'ABCDEFGH'[k]}" if k else "")
        for k in range(updates)
        for n in range(identities)
    ]

    async def send():
        async with (
            build_server(ctx, settings, host="127.0.0.1", port=0) as server,
            MllpClient("127.0.0.1", server.port) as client,
        ):
            return [m for m in messages if parse_ack(await client.send(m)).code == "AA"]

    return asyncio.run(send())


def test_relay_sigkilled_mid_burst_then_restarted(ctx, settings):
    downstream = ThreadedReceiver()
    try:
        subscriber(ctx, "DPI", downstream.receiver.port)
        acknowledged = gam_burst(ctx, settings)
        total = len(rows(ctx))
        first = relay_process(settings)
        wait(lambda: len(downstream.receiver.acked) >= total // 3)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert any(r.state != "done" for r in rows(ctx)), "the burst finished before the kill"
        second = relay_process(settings)
        try:
            wait(lambda: all(r.state == "done" for r in rows(ctx)))
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0, second.stderr.read().decode()[-2000:]
    finally:
        downstream.close()
    check_delivery(ctx, downstream.receiver)
    delivered = {(p.ipp.value, p.used_name) for p in map(parse_pam, downstream.receiver.acked)}
    sent = {(p.ipp.value, p.used_name) for p in map(parse_pam, acknowledged)}
    assert len(acknowledged) == 48 and sent <= delivered


def test_listener_dies_between_commit_and_ack_and_the_resend_is_idempotent(ctx, settings):
    subscriber(ctx, "DPI", 1)
    handler = InboundHandler(ctx, settings)

    async def crash_after_commit(raw: bytes, peer) -> bytes:
        await asyncio.to_thread(handler.process, raw)  # committed...
        raise RuntimeError("process killed before the ACK was written")

    async def scenario():
        message = pam("R1", used="MARTIN")
        async with (
            MllpServer(crash_after_commit, "127.0.0.1", 0) as crashing,
            MllpClient("127.0.0.1", crashing.port) as client,
        ):
            with pytest.raises(MllpDropped):
                await client.send(message)
        async with (
            build_server(ctx, settings, host="127.0.0.1", port=0) as restarted,
            MllpClient("127.0.0.1", restarted.port) as client,
        ):
            return await client.send(message)

    ack = parse_ack(asyncio.run(scenario()))
    assert (ack.code, ack.control_id) == ("AA", "R1")
    with Session(ctx.engine) as session:
        events = session.execute(select(OutboxMessageRow.event)).scalars().all()
    assert events == ["A28"]  # one change, one outbound message
