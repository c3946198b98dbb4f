"""HL7 operations API on both engines: subscribers, INS-ready switch and replay, dead letters, quarantine."""

from __future__ import annotations

import asyncio

from app.integrations.hl7.parse import parse_pam
from app.services.replay import replay_step, running_jobs
from app.workers.relay import Relay
from tests.conftest import auth
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import MATRICULES, drain, fast, new_identity, qualify, rename
from tests.integration.test_hl7_inbound import pam

SUB = {
    "name": "DPI",
    "host": "127.0.0.1",
    "port": 2575,
    "receiving_application": "DPI",
    "receiving_facility": "CHU-X",
}


def test_subscribers_need_the_admin_role(client, settings):
    assert client.post("/subscribers", json=SUB, headers=auth(settings, "admission")).status_code == 403
    assert client.get("/subscribers").status_code == 401


def test_subscriber_lifecycle(client, settings):
    admin = auth(settings, "admin")
    created = client.post("/subscribers", json=SUB, headers=admin)
    assert created.status_code == 201 and created.json()["ins_ready"] is False
    sid = created.json()["id"]
    assert client.post("/subscribers", json=SUB, headers=admin).status_code == 409
    bad = client.patch(f"/subscribers/{sid}", json={"events": "A28,ZZZ"}, headers=admin)
    assert bad.status_code == 409 and bad.json()["field"] == "events"
    assert (
        client.patch(f"/subscribers/{sid}", json={"charset": "8859/1"}, headers=admin).json()["charset"]
        == "8859/1"
    )
    assert client.post(f"/subscribers/{sid}/pause", headers=admin).json()["paused"] is True
    assert client.post(f"/subscribers/{sid}/resume", headers=admin).json()["paused"] is False
    switched = client.post(f"/subscribers/{sid}/ins-ready", headers=admin)
    assert switched.status_code == 202 and switched.json()["scope"] == "qual"
    assert client.post(f"/subscribers/{sid}/ins-ready", headers=admin).status_code == 409
    assert client.get(f"/subscribers/{sid}", headers=admin).json()["ins_ready"] is True
    assert [j["id"] for j in client.get(f"/subscribers/{sid}/replay", headers=admin).json()] == [
        switched.json()["id"]
    ]


def test_ins_ready_switch_replays_qual_identities_in_the_new_format_and_in_order(client, settings, ctx):
    admin = auth(settings, "admin")

    async def scenario():
        receiver = await FakeReceiver().start()
        sid = client.post("/subscribers", json={**SUB, "port": receiver.port}, headers=admin).json()["id"]
        ids = [new_identity(ctx, n).id for n in range(3)]
        qualify(ctx, ids[0], MATRICULES[0])
        qualify(ctx, ids[2], MATRICULES[1])
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: len(receiver.acked) == 5)
        legacy_count = len(receiver.received)
        job = client.post(f"/subscribers/{sid}/ins-ready", headers=admin).json()
        rename(ctx, ids[0], "MARTIN")  # live, INS-ready, written before the replay row
        while running_jobs(ctx):
            replay_step(ctx, job["id"], 1)
        await drain(relay, lambda: len(receiver.acked) == 8)
        await relay.close()
        await receiver.close()
        progress = client.get(f"/subscribers/{sid}/replay", headers=admin).json()[0]
        return receiver.received[legacy_count:], job, progress, ids

    after, job, progress, ids = asyncio.run(scenario())
    assert job["total"] == 2 and (progress["state"], progress["enqueued"]) == ("done", 2)
    parsed = [parse_pam(m) for m in after]
    assert sorted((p.ipp.value, p.used_name, len(p.ins)) for p in parsed) == [
        ("IPP000000", "MARTIN", 1),
        ("IPP000000", "MARTIN", 1),
        ("IPP000002", "", 1),
    ]
    assert all(p.zfd is not None and p.status_code == "VALI" for p in parsed)
    first = [int(p.header.control_id) for p in parsed if p.ipp.value == "IPP000000"]
    assert first == sorted(first)  # the live update and the replay of one identity keep their order


def test_dead_letters_and_queue_gauges(client, settings, ctx):
    admin = auth(settings, "admin")

    async def scenario():
        receiver = await FakeReceiver(lambda _m, _i: "AE").start()
        client.post("/subscribers", json={**SUB, "port": receiver.port}, headers=admin)
        identity = new_identity(ctx, 1)
        rename(ctx, identity.id, "MARTIN")
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: client.get("/operations/queues", headers=admin).json()[0]["dead"] == 1)
        await relay.close()
        await receiver.close()

    asyncio.run(scenario())
    (queue,) = client.get("/operations/queues", headers=admin).json()
    assert (queue["pending"], queue["dead"]) == (1, 1) and queue["oldest_pending_age_seconds"] >= 0
    (dead,) = client.get("/operations/dead-letters", headers=admin).json()
    assert dead["event"] == "A28" and dead["last_error"].startswith("AE")
    assert (
        client.post(
            f"/operations/dead-letters/{dead['id']}/skip", json={"reason": ""}, headers=admin
        ).status_code
        == 422
    )
    skipped = client.post(
        f"/operations/dead-letters/{dead['id']}/skip", json={"reason": "resent by hand"}, headers=admin
    )
    assert skipped.json()["state"] == "skipped"
    assert client.post(f"/operations/dead-letters/{dead['id']}/retry", headers=admin).status_code == 409
    metrics = client.get("/metrics").text
    assert (
        'identito_outbox_pending{subscriber="DPI"} 1' in metrics
        and 'identito_outbox_dead{subscriber="DPI"} 0' in metrics
    )


def test_operator_fixes_and_reruns_a_quarantined_message(client, settings):
    cell = auth(settings, "identitovigilance")
    code, _ = client.app.state.hl7_processor(pam("Q1", pid7="19790x28"))
    assert code == "AE"
    (item,) = client.get("/quarantine", headers=cell).json()
    assert (item["control_id"], item["error_field"], item["error_code"]) == ("Q1", "PID-7", "hl7-bad-date")
    detail = client.get(f"/quarantine/{item['id']}", headers=cell).json()
    fixed = detail["message"].replace("19790x28", "19790328")
    rerun = client.post(f"/quarantine/{item['id']}/rerun", json={"message": fixed}, headers=cell).json()
    assert rerun["ack_code"] == "AA" and "MSA|AA|Q1" in rerun["ack"]
    assert client.get("/quarantine", headers=cell).json() == []
    assert (
        client.post(f"/quarantine/{item['id']}/discard", json={"reason": "x"}, headers=cell).status_code
        == 409
    )
    found = client.get("/identities", params={"ipp": "000003"}, headers=cell).json()
    assert found["items"][0]["birth_date"] == "1979-03-28"
    assert client.app.state.hl7_processor(pam("Q1", pid7="19790x28"))[0] == "AA"  # same MSH-10: same ACK
