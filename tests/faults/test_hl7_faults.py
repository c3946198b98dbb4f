"""HL7 fault scenarios, real processes and sockets, on PostgreSQL.

The GAM sends a burst to `identito mllp-listen` (a process), `identito relay` (a process)
delivers to a downstream receiver; faults come from the fault proxy (tests/faults/proxy.py) or
from SIGKILL. After each scenario the fault is removed, everything must drain within a bounded
time without an operator, and the checker (tests/faults/checker.py) proves nothing was lost,
doubled differently, reordered or half-written. Seeds are fixed; ``--long`` runs more.
"""

from __future__ import annotations

import random
import time
from urllib.parse import urlsplit

from sqlalchemy import text

from tests.faults.checker import Figures, check, outbox_open
from tests.faults.harness import Gam, Service, free_port, gam_messages, through, wait_for
from tests.faults.proxy import FaultProxy
from tests.integration.hl7_support import subscriber
from tests.integration.test_hl7_crash import ThreadedReceiver

DRAIN_SECONDS = 60  # the bound within which the service must recover once a fault is removed


def _drain(ctx, figures: Figures, expected_rows: int) -> None:
    def drained() -> bool:
        with ctx.engine.connect() as connection:
            rows = connection.execute(text("SELECT count(*) FROM outbox_message")).scalar_one()
        return rows >= expected_rows and outbox_open(ctx) == 0

    figures.drain_seconds = wait_for(drained, DRAIN_SECONDS, "the outbox drained after the faults")


def _stop(*services: Service) -> None:
    for service in services:
        code = service.stop()
        assert code in (0, None) or service.kills, (
            f"{service.args[0]} exited {code}: {service.output()[-2000:]}")


def test_subscriber_behind_the_proxy_cut_reset_blackhole_latency(ctx, pg_url, tmp_path, long_run):
    """The downstream link fails in every way the proxy knows while the GAM bursts."""
    rng = random.Random(1601)
    rounds = 4 if long_run else 1
    receiver = ThreadedReceiver()
    proxy = FaultProxy("127.0.0.1", receiver.receiver.port).start()
    subscriber(ctx, "DPI", proxy.port)
    port = free_port()
    listener = Service(pg_url, tmp_path, "mllp-listen", listen_port=port).start()
    relay = Service(pg_url, tmp_path, "relay").start()
    messages = gam_messages("SUB", 40 * rounds, 3)
    gam = Gam(port, messages).start()
    faults = []
    try:
        wait_for(lambda: receiver.receiver.acked, 30, "first delivery")
        for _ in range(rounds):
            schedule = [
                ("cut", {"cut_after": rng.randint(10, 300)}),  # inside the first message or its ACK
                ("reset", {}),
                ("blackhole", {}),
                ("latency", {"latency": 0.4}),  # 2 x 0.4 s > the relay's 0.5 s ACK timeout
                ("latency", {"latency": 0.05}),  # slow but within the timeout
                ("bandwidth", {"bandwidth": 4000}),
            ]
            for mode, params in schedule:
                proxy.set(mode, **params)  # type: ignore[arg-type]
                faults.append(mode)
                time.sleep(rng.uniform(0.4, 1.2))
                proxy.heal()
                time.sleep(rng.uniform(0.1, 0.4))
        gam.join(120)
        figures = Figures("subscriber behind proxy", sent=gam.attempts, faults=",".join(faults))
        _drain(ctx, figures, len(messages))
    finally:
        _stop(listener, relay)
        proxy.stop()
        receiver.close()
    check(ctx, figures, gam.acknowledged, {"DPI": receiver.receiver})
    assert figures.acknowledged == len(messages)
    assert proxy.stats["cut"] >= 1 and proxy.stats["reset"] >= 1, proxy.stats  # the faults hit traffic


def test_relay_killed_at_random_points_under_load(ctx, pg_url, tmp_path, long_run):
    """`identito relay` SIGKILLed again and again while it delivers, restarted each time."""
    rng = random.Random(1602)
    kills = 12 if long_run else 3
    receivers = {"DPI": ThreadedReceiver(), "LABO": ThreadedReceiver()}
    for name, receiver in receivers.items():
        subscriber(ctx, name, receiver.receiver.port)
    port = free_port()
    listener = Service(pg_url, tmp_path, "mllp-listen", listen_port=port).start()
    relay = Service(pg_url, tmp_path, "relay").start()
    messages = gam_messages("RLY", 30 * (3 if long_run else 1), 3)
    gam = Gam(port, messages).start()
    under_load = 0
    try:
        for _ in range(kills):
            # Kill while it delivers: after its next delivery, at a random point.
            seen = len(receivers["DPI"].receiver.received)
            wait_for(lambda: len(receivers["DPI"].receiver.received) > seen or outbox_open(ctx) == 0, 30,
                     "the relay delivering again")
            time.sleep(rng.uniform(0.0, 0.4))
            under_load += outbox_open(ctx) > 0
            relay.kill9()
            time.sleep(rng.uniform(0.0, 0.5))
            relay.start()
        gam.join(120)
        figures = Figures("relay kill -9", sent=gam.attempts,
                          faults=f"{relay.kills} kills, {under_load} with messages in flight or waiting")
        _drain(ctx, figures, 2 * len(messages))
    finally:
        _stop(listener, relay)
        for receiver in receivers.values():
            receiver.close()
    check(ctx, figures, gam.acknowledged, {n: r.receiver for n, r in receivers.items()})
    assert figures.acknowledged == len(messages) and relay.kills == kills
    assert under_load >= kills // 2, "the kills did not land under load"


def test_listener_killed_mid_burst_then_the_gam_resends(ctx, pg_url, tmp_path, long_run):
    """`identito mllp-listen` SIGKILLed while the GAM sends: the GAM resends what was not
    acknowledged, and the resends (same MSH-10) are stored once."""
    rng = random.Random(1603)
    kills = 10 if long_run else 3
    receiver = ThreadedReceiver()
    subscriber(ctx, "DPI", receiver.receiver.port)
    port = free_port()
    listener = Service(pg_url, tmp_path, "mllp-listen", listen_port=port).start()
    relay = Service(pg_url, tmp_path, "relay").start()
    messages = gam_messages("LST", 40 * (3 if long_run else 1), 3)
    gam = Gam(port, messages).start()
    # Kills at random points *of the burst* (after so many ACKs), not at random times: a fast
    # machine once sent the whole burst before the first timed kill.
    points = sorted(rng.sample(range(5, len(messages) - 5), kills))
    try:
        for point in points:
            deadline = time.monotonic() + 60
            while len(gam.acknowledged) < point and gam.is_alive() and time.monotonic() < deadline:
                time.sleep(0.005)
            listener.kill9()
            time.sleep(rng.uniform(0.0, 0.3))
            listener.start()
        gam.join(120)
        figures = Figures("listener kill -9", sent=gam.attempts, faults=f"{listener.kills} kills")
        _drain(ctx, figures, len(messages))
    finally:
        _stop(listener, relay)
        receiver.close()
    check(ctx, figures, gam.acknowledged, {"DPI": receiver.receiver})
    assert figures.acknowledged == len(messages) and gam.errors >= 1  # the GAM did have to resend
    with ctx.engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM inbound_message")).scalar_one()
    assert stored == len(messages)  # a resend is never a second row


def test_postgresql_connections_reset_mid_burst(ctx, pg_url, tmp_path, long_run):
    """The listener and the relay reach PostgreSQL through the proxy, whose connections are reset
    (RST) several times during the burst; also a short blackhole. (The shared server itself is
    not restarted: other test sessions use it.)"""
    rng = random.Random(1604)
    rounds = 8 if long_run else 3
    target = urlsplit(pg_url)
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    via_proxy = through(pg_url, proxy.port)
    receiver = ThreadedReceiver()
    subscriber(ctx, "DPI", receiver.receiver.port)
    port = free_port()
    listener = Service(via_proxy, tmp_path, "mllp-listen", listen_port=port).start()
    relay = Service(via_proxy, tmp_path, "relay").start()
    messages = gam_messages("PGR", 40 * (3 if long_run else 1), 3)
    gam = Gam(port, messages).start()
    faults = []
    try:
        for n in range(rounds):
            time.sleep(rng.uniform(0.3, 1.0))
            if n == 1:
                proxy.set("blackhole")
                faults.append("blackhole")
                time.sleep(1.0)
                proxy.heal()
            proxy.set("reset")
            faults.append("reset")
            time.sleep(rng.uniform(0.05, 0.3))
            proxy.heal()
        gam.join(120)
        figures = Figures("postgresql behind proxy", sent=gam.attempts, faults=",".join(faults))
        _drain(ctx, figures, len(messages))
        alive = listener.alive() and relay.alive()
    finally:
        _stop(listener, relay)
        proxy.stop()
        receiver.close()
    check(ctx, figures, gam.acknowledged, {"DPI": receiver.receiver})
    assert alive, "a process died of a lost database connection instead of reconnecting"
    assert figures.acknowledged == len(messages) and proxy.stats["reset"] >= rounds


def test_the_gam_link_itself_cut_and_reset(ctx, pg_url, tmp_path, long_run):
    """The GAM -> listener link goes through the proxy, cut mid-message or reset: the GAM's
    resends are stored once."""
    rng = random.Random(1605)
    receiver = ThreadedReceiver()
    subscriber(ctx, "DPI", receiver.receiver.port)
    port = free_port()
    listener = Service(pg_url, tmp_path, "mllp-listen", listen_port=port).start()
    relay = Service(pg_url, tmp_path, "relay").start()
    proxy = FaultProxy("127.0.0.1", port).start()
    messages = gam_messages("GL", 30 * (3 if long_run else 1), 2)
    gam = Gam(proxy.port, messages).start()
    faults = []
    # Faults at random points *of the burst* (after so many ACKs): a quiet machine sends the whole
    # burst before a timed fault.
    points = sorted(rng.sample(range(3, len(messages) - 3), 12 if long_run else 4))
    try:
        for n, point in enumerate(points):
            until = time.monotonic() + 60
            while len(gam.acknowledged) < point and gam.is_alive() and time.monotonic() < until:
                time.sleep(0.002)
            kind = "reset" if n % 2 else "cut"
            hits = proxy.stats[kind]
            if kind == "reset":
                proxy.set("reset")
            else:
                proxy.set("cut", cut_after=rng.randint(10, 400))
            faults.append(kind)
            # Held until the fault has hit the GAM's traffic (a reconnecting GAM may take longer
            # than a fixed window on a loaded machine), at most 10 s.
            deadline = time.monotonic() + 10
            time.sleep(0.2)
            while proxy.stats[kind] == hits and time.monotonic() < deadline and gam.is_alive():
                time.sleep(0.05)
            proxy.heal()
        gam.join(120)
        figures = Figures("GAM link cut/reset", sent=gam.attempts, faults=",".join(faults))
        _drain(ctx, figures, len(messages))
    finally:
        _stop(listener, relay)
        proxy.stop()
        receiver.close()
    check(ctx, figures, gam.acknowledged, {"DPI": receiver.receiver})
    assert figures.acknowledged == len(messages) and gam.errors >= 1
    assert proxy.stats["cut"] >= 1 and proxy.stats["reset"] >= 1, proxy.stats
