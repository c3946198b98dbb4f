"""Replay loop: runs the replay jobs (INS-ready switch, operator replays), throttled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from app.db.errors import DatabaseUnavailable
from app.services.context import ServiceContext
from app.services.replay import replay_step, running_jobs

log = logging.getLogger("identito.replay")


async def run_replays(
    ctx: ServiceContext,
    stop: asyncio.Event,
    rate_per_second: float,
    batch_size: int = 500,
    idle_seconds: float = 0.5,
) -> None:
    """Advance every running job, at most ``rate_per_second`` identities per second in total."""
    batch = max(1, min(batch_size, int(rate_per_second / 4) or 1))
    while not stop.is_set():
        try:
            await _advance(ctx, stop, rate_per_second, batch, idle_seconds)
        except DatabaseUnavailable as exc:  # a lost database does not end the relay process
            log.warning("replay jobs: database unavailable (%s), next try in %.1f s", exc, idle_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle_seconds)


async def _advance(
    ctx: ServiceContext, stop: asyncio.Event, rate_per_second: float, batch: int, idle_seconds: float
) -> None:
    """Advance the running jobs until none is left or ``stop`` is set (the loop of ``run_replays``)."""
    while not stop.is_set():
        jobs = await asyncio.to_thread(running_jobs, ctx)
        if not jobs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle_seconds)
            continue
        for job_id in jobs:
            started = time.monotonic()
            count = await asyncio.to_thread(replay_step, ctx, job_id, batch)
            pause = count / rate_per_second - (time.monotonic() - started)
            if pause > 0:
                await asyncio.sleep(pause)
            if count == 0:
                log.info("replay job %s finished", job_id)
            if stop.is_set():
                return
