"""Links without merge (PAM FR A24 / A37) on both engines: the API with its audit and the pair's
decision, the A24/A37 that subscribers receive over a real MLLP socket, and the GAM's A24/A37."""

from __future__ import annotations

import asyncio

import hl7
from sqlalchemy import select
from sqlmodel import Session

from app.db.tables import DuplicatePairRow
from app.integrations.hl7.parse import parse_ack
from app.services import identities, merges, queries, worklists
from app.services.identities import TraitsInput
from app.services.subscribers import switch_ins_ready
from app.workers.relay import Relay
from tests.conftest import actor, auth
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import ADMIN, drain, fast, qualify, subscriber
from tests.integration.test_hl7_inbound import GAM_AUTHORITY, exchange, identity_by_ipp, pam

DESK = actor("admission")
CELL = actor("identitovigilance", sub="ivg-1")
BASE = {"birth_name": "LEFEBURE", "first_names": "MARTINE", "birth_date": "1975-06-11", "sex": "F",
        "birth_place_code": "59350"}


def _pair_of_duplicates(ctx):
    """Two identities of one person (day and month swapped), their pair open with an item."""
    a = identities.create_identity(ctx, DESK, TraitsInput(**BASE))
    b = identities.create_identity(ctx, DESK, TraitsInput(**{**BASE, "birth_date": "1975-11-06"}),
                                   confirm_new=True)
    return a, b


def _pair_status(ctx) -> list[str]:
    with Session(ctx.engine) as session:
        return [r.status for r in session.execute(select(DuplicatePairRow)).scalars()]


def _actions(ctx, identity_id: int) -> list[str]:
    return [e.action for e in queries.identity_history(ctx, CELL, identity_id, limit=100, offset=0)]


def test_link_and_unlink_through_the_api(client, settings, ctx) -> None:
    a, b = _pair_of_duplicates(ctx)
    cell = auth(settings, "identitovigilance", sub="ivg-1")
    assert len(worklists.list_items(ctx, CELL, "potential_duplicate")) == 1
    refused = client.post(f"/identities/{a.id}/links", json={"other_id": b.id, "reason": "x"},
                          headers=auth(settings, "admission"))
    assert refused.status_code == 403
    linked = client.post(f"/identities/{a.id}/links", json={"other_id": b.id, "reason": "même patiente, "
                         "deux INS à vérifier"}, headers=cell)
    assert linked.status_code == 201, linked.text
    body = linked.json()
    assert (body["other_id"], body["standing"], body["linked_by"]) == (b.id, True, "ivg-1")
    assert _pair_status(ctx) == ["linked"]
    assert worklists.list_items(ctx, CELL, "potential_duplicate") == []
    [closed] = worklists.list_items(ctx, CELL, "potential_duplicate", include_resolved=True)
    assert closed.closing_event == "duplicate_linked"
    assert "identity.linked" in _actions(ctx, a.id) and "identity.linked" in _actions(ctx, b.id)
    seen_from_b = client.get(f"/identities/{b.id}/links", headers=auth(settings, "admission")).json()
    assert [(x["other_id"], x["standing"]) for x in seen_from_b] == [(a.id, True)]
    again = client.post(f"/identities/{b.id}/links", json={"other_id": a.id, "reason": "encore"},
                        headers=cell)
    assert again.status_code == 409 and again.json()["type"].endswith("link-exists")
    no_reason = client.delete(f"/identities/{a.id}/links/{b.id}", headers=cell)
    assert no_reason.status_code == 422
    unlinked = client.delete(f"/identities/{b.id}/links/{a.id}?reason=deux personnes", headers=cell)
    assert unlinked.status_code == 200 and unlinked.json()["standing"] is False
    assert unlinked.json()["unlink_reason"] == "deux personnes" and _pair_status(ctx) == ["dismissed"]
    assert "identity.unlinked" in _actions(ctx, a.id) and "identity.unlinked" in _actions(ctx, b.id)
    missing = client.request("DELETE", f"/identities/{a.id}/links/{b.id}", json={"reason": "encore"},
                             headers=cell)
    assert missing.status_code == 409 and missing.json()["type"].endswith("link-missing")


def test_refusals_self_closed_and_unknown(client, settings, ctx) -> None:
    a, b = _pair_of_duplicates(ctx)
    cell = auth(settings, "identitovigilance", sub="ivg-1")
    itself = client.post(f"/identities/{a.id}/links", json={"other_id": a.id, "reason": "x"}, headers=cell)
    assert itself.status_code == 409 and itself.json()["type"].endswith("link-same-identity")
    unknown = client.post(f"/identities/{a.id}/links", json={"other_id": 999, "reason": "x"}, headers=cell)
    assert unknown.status_code == 404
    merges.merge_identities(ctx, CELL, a.id, b.id, reason="doublon", survivor_version=1, absorbed_version=1)
    closed = client.post(f"/identities/{a.id}/links", json={"other_id": b.id, "reason": "x"}, headers=cell)
    assert closed.status_code == 409 and closed.json()["type"].endswith("identity-merged")
    assert client.get(f"/identities/{a.id}/links", headers=cell).json() == []


def _pids(raw: bytes) -> tuple[str, list]:
    message = hl7.parse(raw.decode("utf-8").strip())
    return str(message.segment("MSH")[9]), list(message.segments("PID"))


def _cx(pid) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[4])) for r in pid[3]]


def test_subscribers_receive_a24_then_a37_with_both_pids(ctx, settings) -> None:
    async def scenario():
        legacy, ready = await FakeReceiver().start(), await FakeReceiver().start()
        subscriber(ctx, "OLD", legacy.port)
        switch_ins_ready(ctx, ADMIN, subscriber(ctx, "NEW", ready.port).id)
        a, b = _pair_of_duplicates(ctx)
        qualify(ctx, a.id)  # QUAL: its INS goes to the INS-ready subscriber only, in both messages
        from app.services import links

        links.link_identities(ctx, CELL, b.id, a.id, reason="à rapprocher")
        links.unlink_identities(ctx, CELL, b.id, a.id, reason="deux personnes")
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: len(legacy.acked) == 5 and len(ready.acked) == 5)
        await relay.close()
        await legacy.close()
        await ready.close()
        return a, b, legacy, ready

    a, b, legacy, ready = asyncio.run(scenario())
    for receiver, with_ins in ((legacy, False), (ready, True)):
        parsed = [_pids(raw) for raw in receiver.received]
        links_sent = [(kind, pids) for kind, pids in parsed if kind.startswith("ADT^A24") or
                      kind.startswith("ADT^A37")]
        assert [kind for kind, _ in links_sent] == ["ADT^A24^ADT_A24", "ADT^A37^ADT_A37"]
        for _, pids in links_sent:
            assert len(pids) == 2
            first, second = _cx(pids[0]), _cx(pids[1])
            assert first == [(b.ipp, "PI")]  # b is PROV: never an INS
            expected = [(a.ipp, "PI"), ("275126322074974", "INS")] if with_ins else [(a.ipp, "PI")]
            assert second == expected
        # In order with b's own stream: its A28 came before the A24.
        kinds = [kind.split("^")[1] for kind, pids in parsed if _cx(pids[0])[0][0] == b.ipp]
        assert kinds == ["A28", "A24", "A37"]


def test_gam_a24_and_a37_are_accepted_and_recorded(ctx, settings) -> None:
    exchange(ctx, settings, pam("C1", event="A28^ADT_A05", ipp="G-1"),
             pam("C2", event="A28^ADT_A05", ipp="G-2", name="PAT-QUATRE"))
    second = "PID|1||{ipp}^^^CHU-X&000897406&N^PI||PAT-QUATRE^DOMINIQUE^DOMINIQUE^^^^L||19790328|F"
    link = pam("L1", event="A24^ADT_A24", ipp="G-1").decode() + second.format(ipp="G-2") + "\r"
    unknown = pam("L2", event="A24^ADT_A24", ipp="G-1").decode() + second.format(ipp="G-404") + "\r"
    unlink = pam("L3", event="A37^ADT_A37", ipp="G-1").decode() + second.format(ipp="G-2") + "\r"
    twice = pam("L4", event="A37^ADT_A37", ipp="G-1").decode() + second.format(ipp="G-2") + "\r"
    acks = [parse_ack(a) for a in exchange(ctx, settings, link.encode(), unknown.encode(), unlink.encode(),
                                           twice.encode())]
    assert [a.code for a in acks] == ["AA", "AE", "AA", "AE"]
    assert acks[1].error_code == "not-found" and acks[3].error_code == "link-missing"
    one, two = identity_by_ipp(ctx, "G-1", GAM_AUTHORITY), identity_by_ipp(ctx, "G-2", GAM_AUTHORITY)
    from app.services import links

    [record] = links.links_of(ctx, CELL, two.id)
    assert (record.other(two.id), record.source, record.reason) == (one.id, "hl7", "HL7 A24 L1")
    assert record.unlink_reason == "HL7 A37 L3" and record.unlinked_by.startswith("hl7:")
