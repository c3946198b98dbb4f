"""A campaign worker killed with SIGKILL mid-way and restarted: one outcome per identity, no double call.

10,000 identities on PostgreSQL (2,000 on SQLite), the simulator injecting 2 % transient faults;
the worker runs as a separate process (`identito worker --campaign N`), is killed with SIGKILL
once about a third is done, and is started again. Every identity must end with exactly one
outcome, INSi must never have answered twice for one identity, and the report must add up.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.config import QualificationSettings
from app.db.tables import CampaignItemRow, IdentityRow
from app.services import campaigns
from app.services.campaigns import Selection
from app.simulator.server import SimulatorServer
from tests.campaign_processes import calls_by_name, runner_env, seed, simulator, start_runner
from tests.conftest import actor


@pytest.fixture
def faulty_simulator() -> Iterator[SimulatorServer]:
    """The simulator with 2 % transient faults, keeping every request it receives."""
    server = simulator(fault_rate=0.02)
    yield server
    server.stop()


def _worker(database_url: str, campaign_id: int, sim_url: str, var_dir: Path) -> subprocess.Popen[bytes]:
    env = runner_env(database_url, sim_url, var_dir, campaign_lease_seconds=2,
                     campaign_backoff_base_seconds=0.01, campaign_backoff_cap_seconds=0.05,
                     campaign_breaker_threshold=1000, campaign_max_attempts=6)
    return start_runner(env, "worker", "--campaign", str(campaign_id))


def _done(ctx, campaign_id: int) -> int:
    with ctx.engine.connect() as connection:
        return connection.execute(select(func.count()).where(
            CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.state == "done")).scalar_one()


@pytest.mark.slow
def test_worker_killed_and_restarted(database_url, ctx, faulty_simulator, tmp_path) -> None:
    count = 10_000 if database_url.startswith("postgresql") else 2_000
    seed(ctx, count)
    cell = actor("identitovigilance")
    campaign = campaigns.create_campaign(ctx, cell, name="crash", operation="retrieve",
                                         selection=Selection(eligible=True), rate_limit=0, concurrency=8)
    assert campaign.total == count

    first = _worker(database_url, campaign.id, faulty_simulator.url, tmp_path)
    try:
        deadline = time.monotonic() + 600
        while _done(ctx, campaign.id) < count // 3:
            assert first.poll() is None, first.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed_at = _done(ctx, campaign.id)
    assert killed_at < count
    time.sleep(2.5)  # let the in-flight claims of the dead worker outlive their lease

    second = _worker(database_url, campaign.id, faulty_simulator.url, tmp_path)
    try:
        output = second.communicate(timeout=900)[0].decode()
    finally:
        second.kill()
    assert second.returncode == 0, output[-3000:]
    assert f"campaign {campaign.id}: done" in output

    with ctx.engine.connect() as connection:
        items = connection.execute(select(CampaignItemRow.identity_id, CampaignItemRow.state,
                                          CampaignItemRow.outcome).where(
            CampaignItemRow.campaign_id == campaign.id)).all()
        names = dict(connection.execute(select(IdentityRow.id, IdentityRow.birth_name)).all())
        answered = Counter(r[0] for r in connection.execute(text(
            "SELECT identity_id FROM insi_call WHERE outcome IN ('00', '01', '02')")).all())
        journaled = Counter(r[0] for r in connection.execute(text("SELECT identity_id FROM insi_call")).all())
    assert len(items) == count and {state for _, state, _ in items} == {"done"}
    outcomes = Counter(outcome for _, _, outcome in items)
    assert sum(outcomes.values()) == count and None not in outcomes
    assert set(outcomes) <= {"not_found", "unavailable", "interrupted"}, outcomes
    # At most one per thread of the killed worker: 8 in a call, 8 claimed and waiting for a slot.
    assert outcomes["interrupted"] <= 8 * QualificationSettings().campaign_threads_per_call
    assert max(answered.values()) == 1, "INSi answered twice for one identity"
    interrupted = {identity for identity, _, outcome in items if outcome == "interrupted"}
    calls = calls_by_name(faulty_simulator)
    for identity, _, outcome in items:
        sent = calls[names[identity]]
        # What the simulator received is what the journal holds, but for the call cut by SIGKILL.
        assert sent - journaled[identity] in ((0, 1) if identity in interrupted else (0,)), identity
        if outcome == "not_found":
            assert answered[identity] == 1
    report = campaigns.report(ctx, cell, campaign.id)
    assert len(report) == count and Counter(r.outcome for r in report) == outcomes
    progress = campaigns.progress(ctx, cell, campaign.id)
    assert progress.status == "done" and progress.done == count and progress.outcomes == dict(outcomes)
