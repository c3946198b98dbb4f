"""Regression: the relay used to exit (code 1, "Base de données injoignable") when its database
connection was reset, leaving the outbox undelivered until an operator restarted it. It now
waits and tries again; once the database answers, everything drains."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from app.config import development_settings
from app.main import build_context
from app.workers.relay import Relay
from app.workers.replay import run_replays
from tests.faults.checker import Figures, check_delivery, outbox_open
from tests.faults.harness import through
from tests.faults.proxy import FaultProxy
from tests.integration.hl7_support import fast, new_identity, rename, subscriber
from tests.integration.test_hl7_crash import ThreadedReceiver


def test_the_relay_survives_a_lost_database_and_drains_after(ctx, pg_url, tmp_path):
    target = urlsplit(pg_url)
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    settings = fast(development_settings(database_url=through(pg_url, proxy.port),
                                         var_dir=tmp_path / "relay", language="en"))
    relay_ctx = build_context(settings)
    downstream = ThreadedReceiver()
    try:
        subscriber(ctx, "DPI", downstream.receiver.port)
        for n in range(3):
            rename(ctx, new_identity(ctx, n).id, "NOMA")

        async def scenario() -> Relay:
            relay = Relay(relay_ctx, settings)
            stop = asyncio.Event()
            proxy.set("reset")  # every connection to PostgreSQL is reset, the pooled ones too
            task = asyncio.create_task(relay.run(stop))
            await asyncio.sleep(1.5)
            assert not task.done(), f"the relay stopped: {task.exception()!r}"
            assert outbox_open(ctx) == 6  # nothing recorded while the database is away
            proxy.heal()
            for _ in range(300):
                if outbox_open(ctx) == 0:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await task
            return relay

        relay = asyncio.run(scenario())
    finally:
        downstream.close()
        relay_ctx.engine.dispose()
        proxy.stop()
    assert relay.counters["database_unavailable"] >= 2 and proxy.stats["reset"] >= 2
    figures = Figures("relay, database reset then back")
    check_delivery(ctx, figures, {"DPI": downstream.receiver})  # changes made through the services
    print(figures.line())
    assert figures.delivered == 6 and figures.lost == 0


def test_the_replay_loop_of_the_relay_process_survives_a_lost_database(pg_url, tmp_path):
    """`identito relay` also runs the replay jobs in the same process: their loop ended the
    process the same way."""
    target = urlsplit(pg_url)
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    settings = development_settings(database_url=through(pg_url, proxy.port), var_dir=tmp_path / "r",
                                    language="en")
    replay_ctx = build_context(settings)

    async def scenario() -> None:
        stop = asyncio.Event()
        proxy.set("reset")
        task = asyncio.create_task(run_replays(replay_ctx, stop, 100.0, idle_seconds=0.05))
        await asyncio.sleep(1.0)
        assert not task.done(), f"the replay loop stopped: {task.exception()!r}"
        proxy.heal()
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(scenario())
    finally:
        replay_ctx.engine.dispose()
        proxy.stop()
    assert proxy.stats["reset"] >= 2
