"""Inbound group commit and worker processes: answers and effects are those of one-by-one processing."""

from __future__ import annotations

import asyncio
import os
import signal

from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import InboundMessageRow, QuarantineRow
from app.db.tables import AuditEventRow
from app.integrations.hl7.mllp import MllpClient, MllpDropped
from app.integrations.hl7.parse import parse_ack
from app.services import inbound
from app.workers.mllp_listener import InboundHandler, build_server
from tests.integration.test_hl7_inbound import count, identity_by_ipp, pam


def from_sender(message: bytes, application: str) -> bytes:
    """The same message sent by another application (MSH-3)."""
    return message.replace(b"MSH|^~\\&|GAM|", f"MSH|^~\\&|{application}|".encode(), 1)


def acks(raws: list[bytes]) -> list[tuple[str, str]]:
    return [(a.code, a.control_id) for a in map(parse_ack, raws)]


def audit_actors(ctx, action: str) -> list[str]:
    with Session(ctx.engine) as session:
        return list(
            session.execute(
                select(AuditEventRow.actor).where(AuditEventRow.action == action).order_by(AuditEventRow.id)
            ).scalars()
        )


def test_a_group_is_applied_in_one_go_each_message_with_its_own_sender(ctx, settings):
    handler = InboundHandler(ctx, settings)
    group = [
        from_sender(pam("G1", ipp="100001", name="MARTIN"), "GAM-A"),
        from_sender(pam("G2", ipp="100002", name="BERNARD"), "GAM-B"),
        from_sender(pam("G3", ipp="100001", name="MARTIN", used="DURAND"), "GAM-C"),
    ]
    assert acks(handler.process_many(group)) == [("AA", "G1"), ("AA", "G2"), ("AA", "G3")]
    assert identity_by_ipp(ctx, "100001").traits.used_name == "DURAND"  # the later message wins
    assert identity_by_ipp(ctx, "100002").traits.birth_name == "BERNARD"
    assert audit_actors(ctx, "identity.created") == ["hl7:GAM-A^CHU-X", "hl7:GAM-B^CHU-X"]
    assert audit_actors(ctx, "identity.updated") == ["hl7:GAM-C^CHU-X"]
    assert count(ctx, InboundMessageRow) == 3


def test_a_refused_or_duplicate_message_does_not_sink_its_group(ctx, settings):
    handler = InboundHandler(ctx, settings)
    assert acks(handler.process_many([pam("D1", ipp="200001")])) == [("AA", "D1")]
    assert acks(handler.process_many([pam("D0", ipp="200005")])) == [("AA", "D0")]
    first_ack = handler.process_many([pam("D1", ipp="200001")])[0]  # duplicate, alone
    group = [
        pam("D2", ipp="200002", name="LEROY"),
        pam("D1", ipp="200001"),  # a resend of a message already applied
        pam("D3", ipp="200003", pid7="20991301"),  # impossible birth date: refused
        pam("D4", ipp="200004", name="FAURE"),
        pam("D0", ipp="200005", name="CHANGED"),  # same MSH-10 as a message applied, other content
    ]
    raws = handler.process_many(group)
    assert acks(raws) == [("AA", "D2"), ("AA", "D1"), ("AE", "D3"), ("AA", "D4"), ("AE", "D0")]
    assert raws[1] == first_ack  # the stored ACK, byte for byte
    assert identity_by_ipp(ctx, "200001").traits.birth_name == "PAT-TROIS"  # the duplicate changed nothing
    assert identity_by_ipp(ctx, "200005").traits.birth_name == "PAT-TROIS"  # the reuse was not applied
    assert identity_by_ipp(ctx, "200002").traits.birth_name == "LEROY"
    assert identity_by_ipp(ctx, "200004").traits.birth_name == "FAURE"
    assert identity_by_ipp(ctx, "200003") is None
    assert count(ctx, QuarantineRow) == 2


def test_a_group_of_updates_reads_each_identity_once_and_sees_its_own_changes(ctx, settings, monkeypatch):
    handler = InboundHandler(ctx, settings)
    assert acks(handler.process_many([pam("U0", ipp="300001")])) == [("AA", "U0")]
    assert acks(handler.process_many([pam("U1", ipp="300002")])) == [("AA", "U1")]
    before = identity_by_ipp(ctx, "300002").version

    def one_by_one(*_args: object) -> None:
        raise AssertionError("the group fell back to one-by-one processing")

    monkeypatch.setattr(inbound, "_alone", one_by_one)
    group = [
        pam("U2", ipp="300002", used="ANDRE"),
        pam("U3", ipp="300001", used="BLANC"),
        pam("U4", ipp="300002", used="CARON"),  # the same identity again: must see U2's save
        pam("U5", ipp="300003", name="DUMAS"),  # a new one
    ]
    assert acks(handler.process_many(group)) == [("AA", "U2"), ("AA", "U3"), ("AA", "U4"), ("AA", "U5")]
    second = identity_by_ipp(ctx, "300002")
    assert (second.traits.used_name, second.version) == ("CARON", before + 2)
    assert identity_by_ipp(ctx, "300001").traits.used_name == "BLANC"
    assert identity_by_ipp(ctx, "300003").traits.birth_name == "DUMAS"


async def _senders(port: int, per_sender: dict[str, list[bytes]]) -> dict[str, list[bytes]]:
    async def one(chunk: list[bytes]) -> list[bytes]:
        async with MllpClient("127.0.0.1", port, ack_timeout_seconds=30) as client:
            return [await client.send(m) for m in chunk]

    answers = await asyncio.gather(*(one(chunk) for chunk in per_sender.values()))
    return dict(zip(per_sender, answers, strict=True))


def _traffic(senders: int, per_sender: int) -> dict[str, list[bytes]]:
    """Each sender updates its own patients in turn; the last message of each patient says DURAND."""
    traffic = {}
    for s in range(senders):
        messages = []
        for n in range(per_sender):
            used = "DURAND" if n >= per_sender - 2 else f"NOM{chr(65 + n)}"
            messages.append(from_sender(pam(f"S{s}M{n}", ipp=f"3{s:02d}{n % 2:03d}", used=used), f"GAM{s}"))
        traffic[f"GAM{s}"] = messages
    return traffic


def test_concurrent_senders_share_transactions_and_keep_their_order(ctx, settings):
    # One transaction at a time: messages of the other connections wait and form groups.
    settings = settings.model_copy(
        update={"hl7": settings.hl7.model_copy(update={"inbound_transactions": 1})}
    )
    traffic = _traffic(senders=6, per_sender=12)

    async def scenario():
        async with build_server(ctx, settings, host="127.0.0.1", port=0) as server:
            return await _senders(server.port, traffic)

    answers = asyncio.run(scenario())
    for sender, raws in answers.items():
        assert [code for code, _ in acks(raws)] == ["AA"] * 12, sender
        assert [cid for _, cid in acks(raws)] == [f"S{sender[3:]}M{n}" for n in range(12)]
    for s in range(6):
        for patient in range(2):
            assert identity_by_ipp(ctx, f"3{s:02d}{patient:03d}").traits.used_name == "DURAND"
    assert count(ctx, InboundMessageRow) == 72


def test_worker_processes_apply_messages_and_a_killed_worker_is_replaced(ctx, settings):
    settings = settings.model_copy(update={"hl7": settings.hl7.model_copy(update={"inbound_processes": 2})})
    traffic = _traffic(senders=4, per_sender=6)

    async def scenario():
        async with build_server(ctx, settings, host="127.0.0.1", port=0) as server:
            answers = await _senders(server.port, traffic)
            pool = server.handler._pool  # noqa: SLF001 - the test kills a worker on purpose
            victim = pool.workers[0].process
            os.kill(victim.pid, signal.SIGKILL)
            victim.join(10)
            after = []
            for n in range(4):  # the GAM resends what got no ACK, on a new connection
                message = from_sender(pam(f"AFTER{n}", ipp=f"9{n:05d}"), "GAM9")
                for _attempt in range(3):
                    try:
                        async with MllpClient("127.0.0.1", server.port, ack_timeout_seconds=30) as client:
                            after.append(await client.send(message))
                        break
                    except (MllpDropped, ConnectionError):
                        continue
            return answers, after, [w.process.pid for w in pool.workers], victim.pid

    answers, after, pids, victim_pid = asyncio.run(scenario())
    for raws in answers.values():
        assert [code for code, _ in acks(raws)] == ["AA"] * 6
    assert acks(after) == [("AA", f"AFTER{n}") for n in range(4)]
    assert victim_pid not in pids and len(pids) == 2
    assert identity_by_ipp(ctx, "300001").traits.used_name == "DURAND"
    assert count(ctx, InboundMessageRow) == 28


def test_a_hung_worker_is_killed_and_replaced_and_the_message_applied_once(ctx, settings):
    hl7 = settings.hl7.model_copy(update={"inbound_processes": 2, "inbound_group_timeout_seconds": 1.0})
    settings = settings.model_copy(update={"hl7": hl7})
    message = pam("HUNG1", ipp="777001", used="DURAND")

    async def scenario():
        async with build_server(ctx, settings, host="127.0.0.1", port=0) as server:
            pool = server.handler._pool  # noqa: SLF001 - the test freezes the workers on purpose
            frozen = [w.process for w in pool.workers]
            for process in frozen:
                os.kill(process.pid, signal.SIGSTOP)  # hung: alive, never answering
            dropped, answer = 0, None
            for _attempt in range(4):  # the GAM resends what got no ACK
                try:
                    async with MllpClient("127.0.0.1", server.port, ack_timeout_seconds=20) as client:
                        answer = await client.send(message)
                    break
                except (MllpDropped, ConnectionError):
                    dropped += 1
            for process in frozen:
                process.join(10)
            return answer, dropped, frozen, [w.process.pid for w in pool.workers]

    answer, dropped, frozen, pids = asyncio.run(scenario())
    assert acks([answer]) == [("AA", "HUNG1")]
    assert dropped >= 1  # at least one attempt met a frozen worker and got no ACK
    assert all(not p.is_alive() for p in frozen if p.pid not in pids)
    assert len(pids) == 2 and dropped == sum(p.pid not in pids for p in frozen)
    assert identity_by_ipp(ctx, "777001").traits.used_name == "DURAND"
    assert count(ctx, InboundMessageRow) == 1
