"""What every fault scenario must prove afterwards, read from the database and the receivers.

``check(ctx, gam, receivers)`` asserts, once the service has drained:

- every message acknowledged AA to the GAM is stored once (inbound_message, unique on
  sender + MSH-10) and its change is in the identity (the last used name the GAM got an AA for);
- no half-written row: per identity, version = identity audit rows = AA'd inbound messages =
  outbox rows for each subscriber; no outbox row left pending or sending;
- each subscriber's receiver acknowledged every outbox row of its subscriber (lost = 0), in
  per-identity order (reorderings = 0), and any duplicate delivery is byte-identical, MSH-10
  included;

and returns the figures printed in the test output (``Figures.line``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import text

from app.integrations.hl7.parse import parse_pam, sniff_header
from app.services.context import ServiceContext
from tests.contract.mllp_fakes import FakeReceiver


@dataclass
class Figures:
    """The counts of one scenario."""

    scenario: str
    sent: int = 0  # GAM send attempts (resends included)
    acknowledged: int = 0  # distinct messages acknowledged AA to the GAM
    stored: int = 0  # inbound rows of those messages
    outbound: int = 0  # outbox rows (one per change per subscriber)
    delivered: int = 0  # distinct outbox rows acknowledged by the receivers
    deliveries: int = 0  # deliveries received, duplicates included
    duplicates: int = 0  # deliveries beyond the first, each with the same MSH-10 and bytes
    reorderings: int = 0
    lost: int = 0
    drain_seconds: float = 0.0
    faults: str = ""

    def line(self) -> str:
        return (f"[faults] {self.scenario}: sent={self.sent} acknowledged={self.acknowledged} "
                f"stored={self.stored} outbound={self.outbound} delivered={self.delivered} "
                f"deliveries={self.deliveries} duplicates_same_msh10={self.duplicates} "
                f"reorderings={self.reorderings} lost={self.lost} drain={self.drain_seconds:.1f}s"
                + (f" faults=({self.faults})" if self.faults else ""))


def outbox_open(ctx: ServiceContext) -> int:
    """Outbox rows not delivered yet."""
    with ctx.engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT count(*) FROM outbox_message WHERE state NOT IN ('done', 'skipped')")).scalar_one())


def check_store(ctx: ServiceContext, figures: Figures, acknowledged: list[bytes]) -> None:
    """AA'd messages stored once each, identities consistent with their history."""
    control_ids = [sniff_header(m).control_id for m in acknowledged]  # type: ignore[union-attr]
    assert len(set(control_ids)) == len(control_ids)
    with ctx.engine.connect() as connection:
        inbound = connection.execute(text(
            "SELECT control_id, ack_code, identity_id FROM inbound_message")).all()
        identities = {row.ipp: row for row in connection.execute(text(
            "SELECT id, ipp, version, used_name FROM identity"))}
        audit = Counter(connection.execute(text(
            "SELECT identity_id FROM audit_event WHERE action LIKE 'identity.%'")).scalars())
        outbox = Counter(tuple(r) for r in connection.execute(text(
            "SELECT subscriber_id, identity_id FROM outbox_message")).all())
        subscribers = list(connection.execute(text("SELECT id FROM subscriber")).scalars())
    stored = {cid: (code, identity) for cid, code, identity in inbound}
    missing = [cid for cid in control_ids if stored.get(cid, ("", None))[0] != "AA"]
    assert not missing, f"acknowledged to the GAM but not stored: {missing[:5]}"
    figures.acknowledged, figures.stored = len(control_ids), sum(1 for c in control_ids if c in stored)
    figures.outbound = sum(outbox.values())
    # The last AA'd change of each patient is the identity's state.
    last_used: dict[str, str] = {}
    for message in acknowledged:
        parsed = parse_pam(message)
        last_used[parsed.ipp.value] = parsed.used_name or ""
    for ipp, used in last_used.items():
        assert ipp in identities, f"identity of IPP {ipp} missing"
        assert (identities[ipp].used_name or "") == used, f"IPP {ipp}: not the last acknowledged change"
    per_identity = Counter(identity for code, identity in stored.values() if code == "AA")
    for row in identities.values():
        history = [row.version, audit[row.id], per_identity[row.id]]
        history += [outbox[(s, row.id)] for s in subscribers]
        assert len(set(history)) == 1, (
            f"identity {row.id}: version, audit rows, inbound rows, outbox rows per subscriber = {history}")


def check_delivery(ctx: ServiceContext, figures: Figures, receivers: dict[str, FakeReceiver]) -> None:
    """Each subscriber got each of its outbox rows, in per-identity order; duplicates identical."""
    with ctx.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT o.id, s.name, o.state FROM outbox_message o JOIN subscriber s ON s.id = o.subscriber_id"
        )).all()
    assert {state for _, _, state in rows} <= {"done"}, Counter(state for _, _, state in rows)
    expected: dict[str, set[int]] = defaultdict(set)
    for row_id, name, _ in rows:
        expected[name].add(row_id)
    for name, receiver in receivers.items():
        acked = {int(parse_pam(m).header.control_id) for m in receiver.acked}
        lost = expected[name] - acked
        figures.lost += len(lost)
        assert not lost, f"{name}: rows done but never acknowledged by the receiver: {sorted(lost)[:5]}"
        assert acked <= expected[name], f"{name}: received rows of another subscriber"
        figures.delivered += len(acked)
        figures.deliveries += len(receiver.received)
        first: dict[str, bytes] = {}
        streams: dict[str, list[int]] = defaultdict(list)
        for message in receiver.received:
            parsed = parse_pam(message)
            cid = parsed.header.control_id
            if cid in first:
                figures.duplicates += 1
                assert first[cid] == message, f"{name}: redelivery of MSH-10 {cid} is not identical"
            first.setdefault(cid, message)
            stream = streams[parsed.ipp.value]
            if stream and int(cid) < stream[-1]:
                # A redelivery of the message just before is a duplicate; anything older is a
                # reordering (a change arriving after a later one).
                figures.reorderings += 1
            if not stream or int(cid) > stream[-1]:
                stream.append(int(cid))
        assert figures.reorderings == 0, f"{name}: per-identity order broken"


def check(ctx: ServiceContext, figures: Figures, acknowledged: list[bytes],
          receivers: dict[str, FakeReceiver]) -> Figures:
    """All of the above; prints and returns the figures."""
    check_store(ctx, figures, acknowledged)
    check_delivery(ctx, figures, receivers)
    print(figures.line())
    return figures


def check_history(ctx: ServiceContext, *, audited: bool = True) -> dict[int, list[dict[str, object]]]:
    """Changes made without the GAM (REST writes, desk, replays): no half-written row.

    For each identity, version = identity audit rows = *live* outbox rows for each subscriber
    (replay rows are counted apart); returns each identity's audit rows, oldest first (their
    ``after`` values), for the scenario's own checks. ``audited=False`` leaves the audit rows out
    of the count (identities qualified by the test shortcut ``hl7_support.qualify``, which writes
    none)."""
    with ctx.engine.connect() as connection:
        versions = dict(connection.execute(text("SELECT id, version FROM identity")).all())
        audit: dict[int, list[dict[str, object]]] = defaultdict(list)
        for identity_id, after in connection.execute(text(
                "SELECT identity_id, after FROM audit_event WHERE action LIKE 'identity.%' "
                "AND identity_id IS NOT NULL ORDER BY id")):
            audit[identity_id].append(after or {})
        outbox = Counter(tuple(r) for r in connection.execute(text(
            "SELECT subscriber_id, identity_id FROM outbox_message WHERE kind = 'live'")).all())
        subscribers = list(connection.execute(text("SELECT id FROM subscriber")).scalars())
    for identity_id, version in versions.items():
        history = [version] + ([len(audit[identity_id])] if audited else [])
        history += [outbox[(s, identity_id)] for s in subscribers]
        assert len(set(history)) == 1, (
            f"identity {identity_id}: version, audit rows, live outbox rows per subscriber = {history}")
    assert set(audit) <= set(versions), "audit rows of an identity that does not exist"
    return audit
