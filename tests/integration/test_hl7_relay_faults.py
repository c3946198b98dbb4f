"""Relay fault tests on both engines: downstream down, slow, AE, AR, dropped; dead letters.

After each scenario the invariants a downstream application relies on are checked: every queued
message reached it, per-identity order held, and any duplicate delivery carried the same MSH-10.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow
from app.integrations.hl7.parse import parse_pam
from app.services import outbox_ops
from app.workers.relay import Relay
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import ADMIN, drain, fast, new_identity, rename, subscriber


def rows(ctx) -> list[OutboxMessageRow]:
    with Session(ctx.engine) as session:
        return list(session.execute(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).scalars())


def check_delivery(ctx, receiver: FakeReceiver) -> None:
    """Everything acknowledged, per-identity order, duplicates share MSH-10 and content."""
    expected = [r for r in rows(ctx) if r.state == "done"]
    acked = [int(parse_pam(m).header.control_id) for m in receiver.acked]
    assert sorted(set(acked)) == [r.id for r in expected]
    by_id: dict[str, bytes] = {}
    streams: dict[str, list[int]] = {}
    for message in receiver.received:
        parsed = parse_pam(message)
        cid = parsed.header.control_id
        assert by_id.setdefault(cid, message) == message  # a redelivery is byte-identical
        stream = streams.setdefault(parsed.ipp.value, [])
        if not stream or stream[-1] != int(cid):
            stream.append(int(cid))
    for stream in streams.values():
        assert stream == sorted(stream), "per-identity order broken"


def burst(ctx, identities: int = 3, updates: int = 3) -> None:
    """A few identities, each created then updated a few times."""
    for n in range(identities):
        identity = new_identity(ctx, n)
        for k in range(updates):
            rename(ctx, identity.id, f"NOM{'ABCDEFGHIJ'[k]}")


def scenario(ctx, settings, behaviour, *, until=None, slow: float = 1.0, **hl7):
    async def run():
        receiver = await FakeReceiver(behaviour, slow_seconds=slow).start()
        subscriber(ctx, "DPI", receiver.port)
        burst(ctx)
        relay = Relay(ctx, fast(settings, **hl7))
        await drain(relay, until or (lambda: all(r.state == "done" for r in rows(ctx))))
        await relay.close()
        await receiver.close()
        return receiver

    return asyncio.run(run())


def test_receiver_down_then_back_up(ctx, settings):
    async def run():
        probe = await FakeReceiver().start()
        port = probe.port
        await probe.close()
        subscriber(ctx, "DPI", port)
        burst(ctx)
        relay = Relay(ctx, fast(settings))
        for _ in range(3):
            await relay.run_once()
            await asyncio.sleep(0.06)
        attempts = {r.attempts for r in rows(ctx) if r.attempts}
        receiver = await FakeReceiver().start(port)
        await drain(relay, lambda: all(r.state == "done" for r in rows(ctx)))
        await relay.close()
        await receiver.close()
        return receiver, attempts

    receiver, attempts = asyncio.run(run())
    assert attempts and len(receiver.received) == len(rows(ctx)) == 12
    check_delivery(ctx, receiver)


def test_slow_receiver_times_out_and_redelivers_with_the_same_msh10(ctx, settings):
    receiver = scenario(
        ctx, settings, lambda _m, i: "slow" if i in (0, 5) else "AA", slow=0.8, ack_timeout_seconds=0.3
    )
    assert len(receiver.received) > 12
    check_delivery(ctx, receiver)


def test_ar_is_retried_until_accepted(ctx, settings):
    receiver = scenario(ctx, settings, lambda _m, i: "AR" if i % 3 == 0 and i < 12 else "AA")
    assert len(receiver.received) > 12
    check_delivery(ctx, receiver)


def test_dropped_connections_mid_message(ctx, settings):
    receiver = scenario(
        ctx, settings, lambda _m, i: ("drop", "drop-mid-ack")[i % 2] if i in (1, 4, 7) else "AA"
    )
    check_delivery(ctx, receiver)


def test_ae_dead_letter_blocks_only_its_identity_then_skip_releases_it(ctx, settings):
    poisoned = "IPP000001"

    def behaviour(message: bytes, _i: int) -> str:
        parsed = parse_pam(message)
        return "AE" if parsed.ipp.value == poisoned and parsed.used_name == "NOMA" else "AA"

    def others_done() -> bool:
        return all(r.state == "done" for r in rows(ctx) if r.snapshot["ipp"] != poisoned) and any(
            r.state == "dead" for r in rows(ctx)
        )

    receiver = scenario(ctx, settings, behaviour, until=others_done)
    states = [(r.snapshot["ipp"], r.state) for r in rows(ctx) if r.snapshot["ipp"] == poisoned]
    assert states == [(poisoned, "done"), (poisoned, "dead"), (poisoned, "pending"), (poisoned, "pending")]
    (dead,) = outbox_ops.dead_letters(ctx, ADMIN)
    assert dead.error_attempts == 3 and dead.last_error.startswith("AE")
    (stats,) = outbox_ops.queue_overview(ctx, ADMIN)
    assert (stats.dead, stats.pending) == (1, 2)
    check_delivery(ctx, receiver)

    outbox_ops.skip_dead_letter(ctx, ADMIN, dead.id, "receiver cannot take this used name; fixed by hand")

    async def resume():
        receiver2 = await FakeReceiver().start()
        relay = Relay(ctx, fast(settings))
        from app.services.subscribers import update_subscriber

        update_subscriber(ctx, ADMIN, dead.subscriber_id, {"port": receiver2.port})
        await drain(relay, lambda: all(r.state in ("done", "skipped") for r in rows(ctx)))
        await relay.close()
        await receiver2.close()
        return receiver2

    later = asyncio.run(resume())
    assert [parse_pam(m).used_name for m in later.received] == ["NOMB", "NOMC"]


def test_dead_letter_retry_sends_the_same_message_again(ctx, settings):
    flaky = {"ae": True}

    def behaviour(_m: bytes, _i: int) -> str:
        return "AE" if flaky["ae"] else "AA"

    async def run():
        receiver = await FakeReceiver(behaviour).start()
        subscriber(ctx, "DPI", receiver.port)
        new_identity(ctx, 1)
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: rows(ctx)[0].state == "dead")
        flaky["ae"] = False
        outbox_ops.retry_dead_letter(ctx, ADMIN, rows(ctx)[0].id)
        await drain(relay, lambda: rows(ctx)[0].state == "done")
        await relay.close()
        await receiver.close()
        return receiver

    receiver = asyncio.run(run())
    assert len(receiver.received) == 4 and len(set(receiver.received)) == 1


def test_two_relays_share_the_queue_without_double_delivery_or_reordering(ctx, settings):
    async def run():
        receiver = await FakeReceiver().start()
        subscriber(ctx, "DPI", receiver.port)
        burst(ctx, identities=6, updates=4)
        # Batches of 3 of the 6 stream heads: neither relay can take the whole queue at once.
        relays = [Relay(ctx, fast(settings, relay_batch_size=3), relay_id=f"r{i}") for i in (1, 2)]
        await asyncio.gather(*(drain(r, lambda: all(x.state == "done" for x in rows(ctx))) for r in relays))
        for relay in relays:
            await relay.close()
        await receiver.close()
        return receiver, relays

    receiver, relays = asyncio.run(run())
    assert len(receiver.received) == len(rows(ctx)) == 30  # each message exactly once
    check_delivery(ctx, receiver)
    if ctx.engine.dialect.name == "postgresql":
        assert all(r.counters["delivered"] > 0 for r in relays)


def test_rows_whose_lease_is_ending_are_given_back_unsent(ctx, settings):
    async def run():
        receiver = await FakeReceiver().start()
        subscriber(ctx, "DPI", receiver.port)
        new_identity(ctx, 1)
        # model_copy skips validation: a lease no longer than the timeouts leaves no time to send.
        short = Relay(ctx, fast(settings, lease_seconds=1.0, ack_timeout_seconds=0.5))
        await short.run_once()
        states = [(r.state, r.attempts) for r in rows(ctx)]
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: all(r.state == "done" for r in rows(ctx)))
        for r in (short, relay):
            await r.close()
        await receiver.close()
        return states, receiver

    states, receiver = asyncio.run(run())
    assert states == [("pending", 0)] and len(receiver.received) == 1
