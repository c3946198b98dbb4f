"""Inbound MLLP on both engines: the GAM's messages applied through the services, ACK after commit."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlmodel import Session

from app.db.hl7_tables import InboundMessageRow, OutboxMessageRow, QuarantineRow
from app.db.identities import IdentityRepository
from app.db.tables import AuditEventRow
from app.domain.identifiers import Authority
from app.domain.status import Status
from app.integrations.hl7.mllp import MllpClient
from app.integrations.hl7.parse import parse_ack
from app.services import worklists
from app.services.context import Actor
from app.workers.mllp_listener import build_server
from tests.hl7_samples import ans_sample
from tests.integration.hl7_support import subscriber

HEADER = (
    "MSH|^~\\&|GAM|CHU-X|IDENTITO|CHU-X|20260115101010||ADT^{event}|{cid}|P|2.5^FRA^2.11|||||FRA|"
    "{cs}|FR||2.11^IHE_FRANCE-2.11-PAM"
)


def pam(
    cid: str,
    *,
    event: str = "A31^ADT_A05",
    ipp: str = "000003",
    name: str = "PAT-TROIS",
    used: str = "",
    pid7: str = "19790328",
    cs: str = "UNICODE UTF-8",
    mrg: str = "",
) -> bytes:
    """A PAM FR message from the GAM."""
    used_rep = f"~{used}^^^^^^D" if used else ""
    segments = [
        HEADER.format(event=event, cid=cid, cs=cs),
        "EVN||20260115101010",
        f"PID|1||{ipp}^^^CHU-X&000897406&N^PI||{name}^DOMINIQUE^DOMINIQUE^^^^L{used_rep}||{pid7}|F|||"
        "^^^^^^BDL^^63220|||||||||||||||||||||PROV",
    ]
    if mrg:
        segments.append(f"MRG|{mrg}^^^CHU-X&000897406&N^PI")
    return ("\r".join(segments) + "\r").encode("latin-1" if cs == "8859/1" else "utf-8")


def exchange(ctx, settings, *messages: bytes) -> list[bytes]:
    """Send messages to a real listener, one connection, and return the raw ACKs."""

    async def scenario():
        async with (
            build_server(ctx, settings, host="127.0.0.1", port=0) as server,
            MllpClient("127.0.0.1", server.port) as client,
        ):
            return [await client.send(m) for m in messages]

    return asyncio.run(scenario())


def count(ctx, table) -> int:
    with Session(ctx.engine) as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


GAM_AUTHORITY = Authority("CHU-X", "000897406", "N")  # CX-4 of the test messages' PID-3


def identity_by_ipp(ctx, ipp: str, authority: Authority = GAM_AUTHORITY):
    """The identity holding this IPP of the sending GAM (or of another authority)."""
    with Session(ctx.engine) as session:
        repo = IdentityRepository(session)
        return repo.get(repo.id_by_ipp(ipp, authority))


def test_ans_sample_creates_the_identity_and_keeps_the_ins_for_verification(ctx, settings):
    (raw,) = exchange(ctx, settings, ans_sample())
    ack = parse_ack(raw)
    assert (ack.code, ack.control_id) == ("AA", "3975")
    identity = identity_by_ipp(ctx, "000003")
    assert (identity.traits.birth_name, identity.traits.first_names) == ("PAT-TROIS", "DOMINIQUE")
    assert identity.status is Status.PROV and identity.active_ins is None
    (record,) = identity.ins_records
    assert (record.ins.matricule, record.active, record.source) == ("279035121518989", False, "HL7-RECEIVED")
    with Session(ctx.engine) as session:
        actors = set(session.execute(select(AuditEventRow.actor)).scalars())
    assert actors == {"hl7:GAM^CHU-X"}
    (item,) = worklists.list_items(ctx, Actor("cell", frozenset({"identitovigilance"})), "ins_received")
    assert item.identity_id == identity.id and item.created_by == "hl7:GAM^CHU-X"


def test_trusted_referential_qualifies_and_ins_ready_subscribers_get_the_ins(ctx, settings):
    settings = settings.model_copy(
        update={"hl7": settings.hl7.model_copy(update={"trusted_referentials": ["GAM"]})}
    )
    sub = subscriber(ctx, "DPI", 1)
    from app.services.subscribers import switch_ins_ready
    from tests.integration.hl7_support import ADMIN

    switch_ins_ready(ctx, ADMIN, sub.id)
    (raw,) = exchange(ctx, settings, ans_sample())
    assert parse_ack(raw).code == "AA"
    identity = identity_by_ipp(ctx, "000003")
    assert identity.status is Status.QUAL and identity.active_ins.matricule == "279035121518989"
    with Session(ctx.engine) as session:
        last = (
            session.execute(select(OutboxMessageRow).order_by(OutboxMessageRow.id.desc())).scalars().first()
        )
    assert last.snapshot["status"] == "QUAL" and last.snapshot["ins"]["matricule"] == "279035121518989"


def test_duplicate_control_id_gets_the_same_ack_and_changes_nothing(ctx, settings):
    subscriber(ctx, "DPI", 1)
    first, second = exchange(ctx, settings, pam("M1", used="MARTIN"), pam("M1", used="MARTIN"))
    assert first == second and parse_ack(first).code == "AA"
    assert identity_by_ipp(ctx, "000003").version == 1
    assert count(ctx, OutboxMessageRow) == 1 and count(ctx, InboundMessageRow) == 1


def test_update_then_merge_then_identifier_change(ctx, settings):
    subscriber(ctx, "DPI", 1)
    acks = exchange(
        ctx,
        settings,
        pam("1", ipp="100"),
        pam("2", ipp="200", name="PAT-DEUX"),
        pam("3", ipp="100", used="MARTIN"),
        pam("4", event="A40^ADT_A39", ipp="100", used="MARTIN", mrg="200"),
        pam("5", event="A47^ADT_A30", ipp="300", used="MARTIN", mrg="100"),
    )
    assert [parse_ack(a).code for a in acks] == ["AA"] * 5
    survivor = identity_by_ipp(ctx, "300")
    assert survivor.traits.used_name == "MARTIN" and identity_by_ipp(ctx, "100") is None
    assert identity_by_ipp(ctx, "200").active is False
    with Session(ctx.engine) as session:
        events = [
            (r.event, r.snapshot.get("prior_ipp"))
            for r in session.execute(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).scalars()
        ]
    assert events == [("A28", None), ("A28", None), ("A31", None), ("A40", "200"), ("A47", "100")]


def test_unreadable_and_rule_breaking_messages_are_quarantined_with_ae(ctx, settings):
    bad_date, bad_name, again = exchange(
        ctx, settings, pam("B1", pid7="19790x28"), pam("B2", name="PAT3"), pam("B1", pid7="19790x28")
    )
    date_ack, name_ack = parse_ack(bad_date), parse_ack(bad_name)
    assert (date_ack.code, date_ack.control_id, date_ack.error_code) == ("AE", "B1", "hl7-bad-date")
    assert (name_ack.code, name_ack.error_code) == ("AE", "trait-digit")
    assert "PID^1^5" in bad_name.decode() and again == bad_date
    with Session(ctx.engine) as session:
        rows = session.execute(select(QuarantineRow).order_by(QuarantineRow.id)).scalars().all()
    assert [(r.control_id, r.error_field, r.state) for r in rows] == [
        ("B1", "PID-7", "open"),
        ("B2", "PID-5", "open"),  # an HL7 location, not the trait's name
    ]
    assert identity_by_ipp(ctx, "000003") is None


def test_latin1_message_is_applied(ctx, settings):
    (raw,) = exchange(ctx, settings, pam("L1", cs="8859/1", used="LÉGER"))
    assert parse_ack(raw).code == "AA"
    assert identity_by_ipp(ctx, "000003").traits.used_name == "LEGER"


def test_escape_sequences_are_read_and_a_malformed_one_is_refused_naming_the_field(ctx, settings):
    hex_escaped, malformed = exchange(
        ctx, settings, pam("E1", used="L\\XC389\\GER"), pam("E2", ipp="000004", name="PAT\\Q\\TROIS")
    )
    assert parse_ack(hex_escaped).code == "AA"
    assert identity_by_ipp(ctx, "000003").traits.used_name == "LEGER"  # É, then the lexical profile
    ack = parse_ack(malformed)
    assert (ack.code, ack.error_code) == ("AE", "hl7-bad-escape")
    assert "PID^1^5" in malformed.decode()
    assert identity_by_ipp(ctx, "000004") is None
    with Session(ctx.engine) as session:
        assert session.execute(select(QuarantineRow.control_id)).scalars().all() == ["E2"]


def _err2(raw: bytes) -> str:
    return next(s for s in raw.decode().split("\r") if s.startswith("ERR|")).split("|")[2]


def test_a_control_id_reused_for_other_content_is_refused_and_quarantined_not_dropped(ctx, settings):
    restamped = pam("R1", used="MARTIN").replace(b"20260115101010||ADT", b"20260115111111||ADT", 1)
    first, resend, reused, reused_again, restamped_resend = exchange(
        ctx, settings, pam("R1", used="MARTIN"), pam("R1", used="MARTIN"), pam("R1", used="DURAND"),
        pam("R1", used="DURAND"), restamped,
    )
    assert parse_ack(first).code == "AA" and resend == first and restamped_resend == first
    ack = parse_ack(reused)
    assert (ack.code, ack.control_id, ack.error_code) == ("AE", "R1", "hl7-control-id-reused")
    assert _err2(reused) == "MSH^1^10" and parse_ack(reused_again).error_code == "hl7-control-id-reused"
    assert identity_by_ipp(ctx, "000003").traits.used_name == "MARTIN"  # the second content was not applied
    with Session(ctx.engine) as session:
        rows = session.execute(select(QuarantineRow)).scalars().all()
    found = [(r.control_id, r.error_code, r.error_field) for r in rows]
    assert found == [("R1", "hl7-control-id-reused", "MSH-10")]
    assert b"DURAND" in rows[0].raw


def test_err2_and_the_quarantine_point_at_the_exact_field(ctx, settings):
    (unknown_merge,) = exchange(ctx, settings, pam("X1", event="A40^ADT_A39", ipp="100", mrg="999"))
    ack = parse_ack(unknown_merge)
    assert (ack.code, ack.error_code) == ("AE", "not-found") and _err2(unknown_merge) == "MRG^1^1"
    with Session(ctx.engine) as session:
        assert session.execute(select(QuarantineRow.error_field)).scalars().all() == ["MRG-1"]
