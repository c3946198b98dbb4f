"""Outbound flows on both engines: outbox rows in the change's transaction, relay to real sockets."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow
from app.integrations.hl7.parse import parse_pam
from app.services import outbox_ops
from app.services.subscribers import set_paused
from app.workers.relay import Relay
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import ADMIN, drain, fast, new_identity, qualify, rename, subscriber


def outbox_rows(ctx) -> list[OutboxMessageRow]:
    with Session(ctx.engine) as session:
        return list(session.execute(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).scalars())


def test_change_writes_one_row_per_interested_subscriber_in_the_same_commit(ctx):
    assert new_identity(ctx, 0) and outbox_rows(ctx) == []  # nobody subscribed yet: nothing queued
    subscriber(ctx, "DPI", 1, events="A28,A31")
    subscriber(ctx, "LAB", 2, events="A31")
    subscriber(ctx, "OFF", 3, enabled=False)
    identity = new_identity(ctx, 1)
    rename(ctx, identity.id, "MARTIN")
    rows = outbox_rows(ctx)
    assert [(r.event, r.subscriber_id) for r in rows] == [("A28", 1), ("A31", 1), ("A31", 2)]
    assert {r.format for r in rows} == {"legacy"} and rows[1].snapshot["used_name"] == "MARTIN"


def test_relay_delivers_in_order_with_msh10_the_outbox_id(ctx, settings):
    settings = fast(settings)

    async def scenario():
        receiver = await FakeReceiver().start()
        subscriber(ctx, "DPI", receiver.port)
        identity = new_identity(ctx, 1)
        for name in ("MARTIN", "DURAND", "PETIT"):
            rename(ctx, identity.id, name)
        relay = Relay(ctx, settings)
        await drain(relay, lambda: len(receiver.acked) == 4)
        await relay.close()
        await receiver.close()
        return receiver

    receiver = asyncio.run(scenario())
    parsed = [parse_pam(m) for m in receiver.received]
    ids = [int(p.header.control_id) for p in parsed]
    assert [p.event for p in parsed] == ["A28", "A31", "A31", "A31"]
    assert ids == [r.id for r in outbox_rows(ctx)] and ids == sorted(ids)
    assert [p.used_name for p in parsed] == ["", "MARTIN", "DURAND", "PETIT"]
    assert {r.state for r in outbox_rows(ctx)} == {"done"}


def test_legacy_and_ins_ready_subscribers_get_their_own_format(ctx, settings):
    async def scenario():
        legacy, ready = await FakeReceiver().start(), await FakeReceiver().start()
        subscriber(ctx, "OLD", legacy.port)
        sub = subscriber(ctx, "NEW", ready.port)
        from app.services.subscribers import switch_ins_ready

        switch_ins_ready(ctx, ADMIN, sub.id)
        identity = new_identity(ctx, 1)
        qualify(ctx, identity.id)
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: len(legacy.acked) == 2 and len(ready.acked) == 2)
        await relay.close()
        return legacy, ready

    legacy, ready = asyncio.run(scenario())
    old, new = parse_pam(legacy.received[-1]), parse_pam(ready.received[-1])
    assert (old.ins, old.status_code, old.zfd) == ((), None, None)
    assert [(c.matricule, c.oid) for c in new.ins] == [("275126322074974", "1.2.250.1.213.1.4.8")]
    assert new.status_code == "VALI" and new.zfd is not None and new.zfd.identity_mode == "SM"
    # An independent parser reads the bytes that crossed the socket the same way.
    from hl7apy.parser import parse_message

    ready_pid = parse_message(ready.received[-1].decode(), find_groups=False).pid
    legacy_pid = parse_message(legacy.received[-1].decode(), find_groups=False).pid
    assert [(r.cx_1.value, r.cx_5.value) for r in ready_pid.pid_3] == [
        ("IPP000001", "PI"), ("275126322074974", "INS")]
    assert [r.cx_5.value for r in legacy_pid.pid_3] == ["PI"]
    assert [c.to_er7() for c in ready_pid.pid_32] == ["VALI"] and not legacy_pid.pid_32.to_er7()


def test_paused_subscriber_keeps_its_queue_until_resumed(ctx, settings):
    async def scenario():
        receiver = await FakeReceiver().start()
        sub = subscriber(ctx, "DPI", receiver.port)
        set_paused(ctx, ADMIN, sub.id, True)
        new_identity(ctx, 1)
        relay = Relay(ctx, fast(settings))
        assert await relay.run_once() == 0
        stats = outbox_ops.queue_overview(ctx, ADMIN)
        set_paused(ctx, ADMIN, sub.id, False)
        await drain(relay, lambda: len(receiver.acked) == 1)
        await relay.close()
        return stats

    (stats,) = asyncio.run(scenario())
    assert (stats.pending, stats.dead) == (1, 0) and stats.oldest_pending_at is not None
