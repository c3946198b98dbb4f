"""Replay loop: runs the replay jobs (INS-ready switch, operator replays), throttled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

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
