"""Identifiers are (value, assigning authority), and a merged identity is closed: over real MLLP sockets.

Issue 18 items 1 and 2: an A28 from the GAM carrying IPP ``000000012`` of its own domain used to
overwrite Identito's own identity ``000000012`` (another person); after an A40, messages, REST edits
and INSi calls on the absorbed identity were accepted.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow, QuarantineRow
from app.db.tables import WorklistItemRow
from app.domain.identifiers import Authority
from app.integrations.hl7.parse import parse_ack, parse_pam
from app.services import identities
from app.services.identities import TraitsInput
from app.workers.relay import Relay
from tests.conftest import auth
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import DESK, drain, fast, subscriber
from tests.integration.test_hl7_inbound import GAM_AUTHORITY, exchange, identity_by_ipp, pam

GAM_PID3 = "^^^CHU-X&000897406&N^PI"


def _own_vali_identity(client, settings, ipp: str = "000000012") -> dict:
    """Identito's own identity, created at the desk (REST), VALI with an identity card on file."""
    desk = auth(settings, "admission")
    created = client.post("/identities", headers=desk, json={
        "birth_name": "MARTIN", "first_names": "LUC", "birth_date": "1961-07-02", "sex": "M",
        "birth_place_code": "75056", "used_name": "BLANC", "ipp": ipp})
    assert created.status_code == 201, created.text
    card = client.post(f"/identities/{created.json()['id']}/documents", headers={**desk, "If-Match": '"1"'},
                       json={"type": "CN", "expires_on": "2099-01-01"})
    assert card.status_code == 201 and card.json()["identity"]["status"] == "VALI"
    return card.json()["identity"]


def _outbox(ctx) -> list[OutboxMessageRow]:
    with Session(ctx.engine) as session:
        return list(session.execute(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).scalars())


def test_a_gam_ipp_equal_to_an_identito_ipp_is_another_patient(ctx, settings, client):
    own = _own_vali_identity(client, settings)
    (ack,) = exchange(ctx, settings, pam("G1", event="A28^ADT_A05", ipp="000000012"))
    assert parse_ack(ack).code == "AA"
    desk = auth(settings, "admission")
    unchanged = client.get(f"/identities/{own['id']}", headers=desk).json()
    assert unchanged == own  # same name, sex, birth date, birth place, used name, status, version
    found = client.get("/identities?ipp=000000012", headers=desk).json()["items"]
    gam = next(i for i in found if i["id"] != own["id"])
    assert (gam["birth_name"], gam["sex"], gam["status"]) == ("PAT-TROIS", "F", "PROV")
    assert gam["ipp_authority"] == GAM_AUTHORITY.text() and own["ipp_authority"] is None
    documents = client.get(f"/identities/{own['id']}/documents", headers=desk).json()
    assert [d["type"] for d in documents] == ["CN"]


def test_the_gam_identity_goes_downstream_under_the_gam_authority(ctx, settings, client):
    _own_vali_identity(client, settings)

    async def scenario():
        receiver = await FakeReceiver().start()
        subscriber(ctx, "DPI", receiver.port)
        message = pam("G2", event="A28^ADT_A05", ipp="000000012")
        (ack,) = await asyncio.to_thread(exchange, ctx, settings, message)
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: len(receiver.acked) == 1)
        await relay.close()
        await receiver.close()
        return ack, receiver.received

    ack, received = asyncio.run(scenario())
    assert parse_ack(ack).code == "AA"
    (message,) = [parse_pam(m) for m in received]
    assert (message.event, message.ipp.value) == ("A28", "000000012")
    assert (message.ipp.namespace, message.ipp.universal_id) == ("CHU-X", "000897406")
    assert message.birth_name == "PAT-TROIS"  # the new patient, not the desk's identity


def test_an_a28_for_a_held_identifier_with_other_strict_traits_is_refused_and_worklisted(ctx, settings):
    first, other, same = exchange(
        ctx, settings,
        pam("C1", event="A28^ADT_A05", ipp="555"),
        pam("C2", event="A28^ADT_A05", ipp="555", name="LEROY", pid7="19800101"),
        pam("C3", event="A28^ADT_A05", ipp="555", used="MARTIN"),
    )
    assert parse_ack(first).code == "AA" and parse_ack(same).code == "AA"  # same person: an update
    refused = parse_ack(other)
    assert (refused.code, refused.error_code) == ("AE", "identifier-other-person")
    err = next(s for s in other.decode().split("\r") if s.startswith("ERR|"))
    assert err.split("|")[2] == "PID^1^3" and err.split("|")[3].startswith("205")
    held = identity_by_ipp(ctx, "555")
    assert held.traits.birth_name == "PAT-TROIS" and held.traits.used_name == "MARTIN"
    with Session(ctx.engine) as session:
        quarantined = session.execute(select(QuarantineRow)).scalar_one()
        item = session.execute(select(WorklistItemRow)).scalar_one()
    assert (quarantined.control_id, quarantined.error_code) == ("C2", "identifier-other-person")
    assert (item.kind, item.identity_id) == ("identifier_conflict", held.id)
    assert item.details["quarantine_id"] == quarantined.id
    assert set(item.details["differs"]) == {"birth_name", "birth_date"}


def test_an_identifier_is_never_taken_without_its_authority(ctx, settings):
    bare = pam("N1", event="A28^ADT_A05").replace(GAM_PID3.encode(), b"^^^^PI")
    (ack,) = exchange(ctx, settings, bare)
    assert (parse_ack(ack).code, parse_ack(ack).error_code) == ("AE", "identifier-no-authority")
    configured = settings.model_copy(update={"hl7": settings.hl7.model_copy(
        update={"identifier_authorities": {"GAM^CHU-X": "CHU-X&1.2.250.1.999.1&ISO"}})})
    (ack,) = exchange(ctx, configured, pam("N2", event="A28^ADT_A05").replace(GAM_PID3.encode(), b"^^^^PI"))
    assert parse_ack(ack).code == "AA"
    assert identity_by_ipp(ctx, "000003", Authority("CHU-X", "1.2.250.1.999.1", "ISO")) is not None
    (ack,) = exchange(ctx, configured, pam("N3", event="A28^ADT_A05", ipp="9"))  # CX-4 names another OID
    assert (parse_ack(ack).code, parse_ack(ack).error_code) == ("AE", "identifier-foreign-authority")


def test_a_gam_may_name_identito_s_own_ipp(ctx, settings):
    own = identities.create_identity(ctx, DESK, TraitsInput("PAT-TROIS", "DOMINIQUE", "1979-03-28", "F",
                                                            birth_place_code="63220"), ipp="000000077")
    message = pam("O1", ipp="000000077", used="MARTIN").replace(
        GAM_PID3.encode(), f"^^^{settings.ipp_namespace}&{settings.ipp_oid}&ISO^PI".encode())
    (ack,) = exchange(ctx, settings, message)
    assert parse_ack(ack).code == "AA"
    assert identities.read_identity(ctx, own.id).traits.used_name == "MARTIN"
    assert identity_by_ipp(ctx, "000000077") is None  # nothing created in the GAM's domain


def _merged(ctx, settings) -> tuple[int, int]:
    acks = exchange(
        ctx, settings,
        pam("M1", event="A28^ADT_A05", ipp="100"),
        pam("M2", event="A28^ADT_A05", ipp="200", name="PAT-DEUX"),
        pam("M3", event="A40^ADT_A39", ipp="200", name="PAT-DEUX", mrg="100"),
    )
    assert [parse_ack(a).code for a in acks] == ["AA"] * 3
    return identity_by_ipp(ctx, "100").id, identity_by_ipp(ctx, "200").id


def test_a_merged_identity_is_closed_to_hl7_and_never_emitted_again(ctx, settings):
    subscriber(ctx, "DPI", 1)
    absorbed_id, survivor_id = _merged(ctx, settings)
    a31, a28, a40 = exchange(
        ctx, settings,
        pam("M4", ipp="100", used="DURAND"),
        pam("M5", event="A28^ADT_A05", ipp="100"),
        pam("M6", event="A40^ADT_A39", ipp="200", name="PAT-DEUX", mrg="100"),
    )
    for raw, location in ((a31, "PID^1^3"), (a28, "PID^1^3"), (a40, "MRG^1^1")):
        ack = parse_ack(raw)
        assert (ack.code, ack.error_code) == ("AE", "identity-merged")
        assert next(s for s in raw.decode().split("\r") if s.startswith("ERR|")).split("|")[2] == location
    absorbed = identities.read_identity(ctx, absorbed_id)
    assert absorbed.active is False and absorbed.merged_into == survivor_id
    assert absorbed.traits.used_name is None
    assert [(r.event, r.identity_id) for r in _outbox(ctx)][-1] == ("A40", survivor_id)


def test_a_merged_identity_is_read_only_through_the_api(ctx, settings, client):
    absorbed_id, survivor_id = _merged(ctx, settings)
    url = f"/identities/{absorbed_id}"
    read = client.get(url, headers=auth(settings, "admission"))
    assert read.json()["active"] is False and read.json()["merged_into"] == survivor_id
    etag = read.headers["ETag"]
    cell = {**auth(settings, "admission", "identitovigilance"), "If-Match": etag}
    refused = [
        client.patch(url, json={"used_name": "Durand"}, headers=cell),
        client.post(f"{url}/documents", json={"type": "CN", "expires_on": "2099-01-01"}, headers=cell),
        client.post(f"{url}/attributes", json={"code": "HOMA", "reason": "homonyme"}, headers=cell),
        client.post(f"{url}/insi/retrieve", json={"by": "traits"}, headers=cell),
    ]
    for response in refused:
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["type"].endswith("identity-merged") and str(survivor_id) in body["detail"]
        assert body["survivor_id"] == survivor_id
    assert client.get(url, headers=cell).json()["version"] == read.json()["version"]
