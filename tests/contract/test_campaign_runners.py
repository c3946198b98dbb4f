"""Two campaign runners on one database, a frozen runner, and stops while the circuit breaker is open.

What was seen: a runner waiting on its open breaker sent no heartbeat, so another runner closed its
items `interrupted` after the lease while the first was alive; the first then called INSi anyway
and opened a second worklist item for the same identity. Ctrl-C during an open breaker bypassed the
breaker (5 calls in 5 s), closed every item `unavailable` and reported the campaign `done`.

Runners are real processes (`identito worker`, `identito campaign run`), each on its own simulator
so that the calls of each one are counted apart; settings are IDENTITO_ variables (short lease).
"""

from __future__ import annotations

import signal
import time

from sqlalchemy import select

from app.db.tables import CampaignItemRow, CampaignRow
from app.services import campaigns
from app.services.campaigns import Selection
from tests.campaign_processes import (
    calls_by_name,
    freeze,
    journal,
    name_of,
    output,
    runner_env,
    seed,
    simulator,
    start_runner,
    stop_all,
    wait_breaker_open,
    wait_until,
    worklist_items,
)
from tests.conftest import actor

LEASE = 2.0
SLOW_RETRIES = {"campaign_lease_seconds": LEASE, "campaign_breaker_threshold": 2, "campaign_max_attempts": 20,
                "campaign_backoff_base_seconds": 0.01, "campaign_backoff_cap_seconds": 0.05}


def _campaign(ctx, ids: list[int]) -> int:  # type: ignore[no-untyped-def]
    created = campaigns.create_campaign(ctx, actor("identitovigilance"), name="runners", operation="retrieve",
                                        selection=Selection(ids=tuple(ids)), rate_limit=0, concurrency=2)
    return created.id


def _items(ctx, campaign_id: int) -> dict[int, CampaignItemRow]:  # type: ignore[no-untyped-def]
    query = select(CampaignItemRow).where(CampaignItemRow.campaign_id == campaign_id)
    with ctx.engine.connect() as connection:
        return {row.identity_id: row for row in connection.execute(query).all()}


def _in_state(ctx, campaign_id: int, state: str) -> set[int]:  # type: ignore[no-untyped-def]
    return {identity for identity, item in _items(ctx, campaign_id).items() if item.state == state}


def _status(ctx, campaign_id: int) -> str:  # type: ignore[no-untyped-def]
    query = select(CampaignRow.status).where(CampaignRow.id == campaign_id)
    with ctx.engine.connect() as connection:
        return str(connection.execute(query).scalar_one())


def _by_identity(server, ids: list[int]) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """Calls a simulator received for each identity (seeded in order, so identity n has name n)."""
    calls = calls_by_name(server)
    return {identity: calls[name_of(n)] for n, identity in enumerate(ids)}


def _stopped_cleanly(printed: str, returncode: int | None, campaign_id: int) -> None:
    assert returncode == 0, printed[-3000:]
    assert f"campaign {campaign_id}: done" not in printed
    assert f"identito campaign run --resume {campaign_id}" in printed  # said in French, with how to resume


def test_two_runners_keep_their_leases_stop_cleanly_and_never_call_twice(database_url, ctx, tmp_path) -> None:
    ids = seed(ctx, 16)
    campaign_id = _campaign(ctx, ids)
    sims = {"a": simulator(fault_rate=1.0), "b": simulator(fault_rate=1.0), "d": simulator()}
    env = {name: runner_env(database_url, sims[name].url, tmp_path, **SLOW_RETRIES,
                            campaign_breaker_cooldown_seconds=cooldown)
           for name, cooldown in (("a", 5), ("b", 30), ("d", 0.5))}
    resume = ("campaign", "run", "--resume", str(campaign_id))
    processes = []
    try:
        # Runner A (the worker) claims items; INSi fails and A's breaker opens. A waits longer than
        # the lease: its heartbeat must keep its items.
        processes.append(a := start_runner(env["a"], "worker", "--campaign", str(campaign_id)))
        wait_breaker_open(sims["a"], 2, a)
        held_by_a = _in_state(ctx, campaign_id, "in_flight")
        assert 1 <= len(held_by_a) <= 4
        time.sleep(LEASE + 0.5)

        # Runner B (`campaign run --resume`) starts, recovers nothing, and its breaker opens too.
        processes.append(b := start_runner(env["b"], *resume))
        wait_breaker_open(sims["b"], 2, b)
        assert not _in_state(ctx, campaign_id, "done"), "a live runner's items were closed"
        assert _in_state(ctx, campaign_id, "in_flight") >= held_by_a

        # Ctrl-C on B while its breaker is open: no call after it, the campaign is not done, B's
        # items are pending again with the calls they had.
        called_by_b = _by_identity(sims["b"], ids)
        b.send_signal(signal.SIGINT)
        printed = output(b, 20)
        assert _by_identity(sims["b"], ids) == called_by_b, "calls after Ctrl-C"
        _stopped_cleanly(printed, b.returncode, campaign_id)
        assert _status(ctx, campaign_id) == "running"
        items, called = _items(ctx, campaign_id), {i: n for i, n in called_by_b.items() if n}
        assert {i: items[i].attempts for i in called} == called  # attempts: calls made
        assert set(called) <= _in_state(ctx, campaign_id, "pending")
        assert _in_state(ctx, campaign_id, "in_flight") == held_by_a

        # A freezes longer than its lease (INSi comes back meanwhile); runner D takes over, closes
        # A's items `interrupted` and finishes the campaign.
        freeze(a, database_url)
        sims["a"].behaviour.fault_rate = 0.0
        time.sleep(LEASE + 0.5)
        processes.append(d := start_runner(env["d"], *resume))
        printed = output(d, 60)
        assert f"campaign {campaign_id}: done" in printed, printed[-3000:]

        # A wakes up: its lease is lost, so it neither calls INSi nor writes anything for those items.
        calls_of_a = len(sims["a"].behaviour.received)
        a.send_signal(signal.SIGCONT)
        printed = output(a, 30)
        assert a.returncode == 0, printed[-3000:]
        calls_after = len(sims["a"].behaviour.received)
        assert calls_after == calls_of_a, "a runner that lost its lease called INSi"
    finally:
        stop_all(processes, sims.values())

    items = _items(ctx, campaign_id)
    assert {item.state for item in items.values()} == {"done"} and _status(ctx, campaign_id) == "done"
    assert {i for i, item in items.items() if item.outcome == "interrupted"} == held_by_a
    assert {item.outcome for i, item in items.items() if i not in held_by_a} == {"not_found"}
    _, answered = journal(ctx)
    assert answered == {i: 1 for i in ids if i not in held_by_a}, "INSi answered twice for one identity"
    assert worklist_items(ctx) == {i: 1 for i in ids}, "one worklist item per identity"


def test_a_runner_frozen_during_its_call_does_not_write_the_answer(database_url, ctx, tmp_path) -> None:
    ids = seed(ctx, 2)
    campaign_id = _campaign(ctx, ids)
    slow, quick = simulator(latency_ms=3000), simulator()
    patient = {"IDENTITO_INSI__TIMEOUT_SECONDS": "120", "IDENTITO_INSI__READ_TIMEOUT_SECONDS": "120"}
    processes = []
    try:
        # A's two calls are on the wire (INSi answers in 3 s) when A freezes past its lease.
        a = start_runner(runner_env(database_url, slow.url, tmp_path, patient, campaign_lease_seconds=LEASE),
                         "worker", "--campaign", str(campaign_id))
        processes.append(a)
        wait_until(lambda: len(slow.behaviour.received) == 2, 30, "A's calls", a)
        freeze(a, database_url)
        time.sleep(LEASE + 0.5)
        d = start_runner(runner_env(database_url, quick.url, tmp_path, campaign_lease_seconds=LEASE),
                         "campaign", "run", "--resume", str(campaign_id))
        processes.append(d)
        printed = output(d, 60)
        assert f"campaign {campaign_id}: done" in printed, printed[-3000:]
        # A wakes up with INSi's answers in hand: the items are no longer its own, nothing is written.
        a.send_signal(signal.SIGCONT)
        printed = output(a, 30)
        assert a.returncode == 0, printed[-3000:]
    finally:
        stop_all(processes, (slow, quick))

    assert {item.outcome for item in _items(ctx, campaign_id).values()} == {"interrupted"}
    assert len(quick.behaviour.received) == 0  # an interrupted item is never called again
    _, answered = journal(ctx)
    assert answered == {i: 1 for i in ids}  # A's calls, journaled when INSi answered
    assert worklist_items(ctx) == {i: 1 for i in ids}, "only the interrupted item's worklist item"


def test_a_stop_during_an_open_breaker_leaves_the_items_to_resume(database_url, ctx, tmp_path) -> None:
    ids = seed(ctx, 3)
    sim = simulator(fault_rate=1.0)
    env = runner_env(database_url, sim.url, tmp_path, **{**SLOW_RETRIES, "campaign_max_attempts": 5},
                     campaign_breaker_cooldown_seconds=30)
    processes = []
    try:
        # Ctrl-C of `identito campaign run` while the breaker is open.
        run = start_runner(env, "campaign", "run", "--ids", ",".join(map(str, ids)), "--rate", "0",
                           "--concurrency", "2")
        processes.append(run)
        wait_breaker_open(sim, 2, run)
        with ctx.engine.connect() as connection:
            campaign_id = connection.execute(select(CampaignRow.id)).scalar_one()
        calls = _by_identity(sim, ids)
        run.send_signal(signal.SIGINT)
        printed = output(run, 20)
        assert _by_identity(sim, ids) == calls, "calls after Ctrl-C"
        _stopped_cleanly(printed, run.returncode, campaign_id)
        assert _status(ctx, campaign_id) == "running"
        assert _in_state(ctx, campaign_id, "pending") == set(ids)
        assert {i: item.attempts for i, item in _items(ctx, campaign_id).items()} == calls

        # `identito worker` picks the campaign up, its breaker opens, and it is stopped (SIGTERM).
        processes.append(worker := start_runner(env, "worker"))
        wait_breaker_open(sim, sum(calls.values()) + 2, worker)
        calls = _by_identity(sim, ids)
        worker.send_signal(signal.SIGTERM)
        printed = output(worker, 20)
        assert _by_identity(sim, ids) == calls, "calls after the worker was stopped"
        assert worker.returncode == 0, printed[-3000:]
        assert _status(ctx, campaign_id) == "running"
        assert _in_state(ctx, campaign_id, "pending") == set(ids)
        assert {i: item.attempts for i, item in _items(ctx, campaign_id).items()} == calls

        # Resumed with INSi back: each identity answered once, one worklist item each.
        sim.behaviour.fault_rate = 0.0
        processes.append(resume := start_runner(env, "campaign", "run", "--resume", str(campaign_id)))
        printed = output(resume, 60)
        assert f"campaign {campaign_id}: done, 3/3 done" in printed, printed[-3000:]
    finally:
        stop_all(processes, (sim,))

    assert {item.outcome for item in _items(ctx, campaign_id).values()} == {"not_found"}
    _, answered = journal(ctx)
    assert answered == {i: 1 for i in ids}
    assert worklist_items(ctx) == {i: 1 for i in ids}
