"""Issue 18 items 3 to 5, as a desk and an integration engineer see them (REST and HL7 over MLLP).

3. A status states facts about the current traits: a strict-trait change drops the document fact
   unless a high-trust document is checked with it, and needs a reason for RECUP/VALI/QUAL.
4. The collection method (ZFD-5) follows how the traits were obtained.
5. Recording a document takes If-Match, refuses the same document twice, asks for the expiry date.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow
from app.integrations.hl7.parse import parse_ack
from tests.conftest import auth
from tests.integration.hl7_support import subscriber
from tests.integration.test_hl7_inbound import exchange, identity_by_ipp, pam

DUPONT = {"birth_name": "Dupont", "first_names": "Jean Pierre", "birth_date": "1980-05-17", "sex": "M",
          "birth_place_code": "63113"}
CARD = {"type": "CN", "expires_on": "2099-01-01"}


def _vali(client, settings) -> dict:
    desk = auth(settings, "admission")
    created = client.post("/identities", json=DUPONT, headers=desk).json()
    recorded = client.post(f"/identities/{created['id']}/documents", json=CARD,
                           headers={**desk, "If-Match": '"1"'})
    assert recorded.status_code == 201 and recorded.json()["identity"]["status"] == "VALI"
    return recorded.json()["identity"]


def _patch(client, settings, identity: dict, body: dict, *roles: str):
    headers = {**auth(settings, *(roles or ("admission",))), "If-Match": f'"{identity["version"]}"'}
    return client.patch(f"/identities/{identity['id']}", json=body, headers=headers)


def test_a_strict_change_of_a_vali_identity_needs_a_reason_and_drops_to_prov(client, settings) -> None:
    vali = _vali(client, settings)
    change = {"birth_name": "Dupond", "sex": "F", "birth_date": "1980-05-18"}
    refused = _patch(client, settings, vali, change)
    assert refused.status_code == 422 and refused.json()["field"] == "reason"
    changed = _patch(client, settings, vali, {**change, "reason": "erreur de saisie"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "PROV"  # the card was checked against the old traits
    documents = client.get(f"/identities/{vali['id']}/documents", headers=auth(settings, "admission")).json()
    assert documents[0]["withdrawn_reason"] == "strict traits changed"


def test_a_strict_change_made_against_a_document_keeps_vali_and_records_it(client, settings) -> None:
    vali = _vali(client, settings)
    passport = {"type": "PA", "expires_on": "2031-06-30"}
    changed = _patch(client, settings, vali,
                     {"birth_name": "Dupond", "reason": "passeport", "document": passport})
    assert changed.status_code == 200 and changed.json()["status"] == "VALI"
    history = client.get(f"/identities/{vali['id']}/history", headers=auth(settings, "admission")).json()
    assert [h["action"] for h in history[:2]] == ["identity.updated", "document.recorded"]
    assert history[1]["after"]["type"] == "PA" and history[1]["after"]["with"] == "strict-change"
    weak = _patch(client, settings, changed.json(), {"birth_name": "Dupont", "reason": "permis",
                                                     "document": {"type": "PC", "expires_on": "2031-01-01"}})
    assert weak.status_code == 200 and weak.json()["status"] == "PROV"  # a driving licence is not high-trust


def test_a_used_name_change_needs_no_reason_and_keeps_the_status(client, settings) -> None:
    vali = _vali(client, settings)
    changed = _patch(client, settings, vali, {"used_name": "Martin"})
    assert changed.status_code == 200 and changed.json()["status"] == "VALI"


def test_an_hl7_strict_change_follows_the_same_rule(ctx, settings, client) -> None:
    (created,) = exchange(ctx, settings, pam("S1", event="A28^ADT_A05", ipp="700"))
    assert parse_ack(created).code == "AA"
    identity = identity_by_ipp(ctx, "700")
    card = client.post(f"/identities/{identity.id}/documents", json=CARD,
                       headers={**auth(settings, "admission"), "If-Match": f'"{identity.version}"'})
    assert card.json()["identity"]["status"] == "VALI"
    (renamed,) = exchange(ctx, settings, pam("S2", ipp="700", name="PAT-QUATRE"))
    assert parse_ack(renamed).code == "AA"
    assert identity_by_ipp(ctx, "700").status.value == "PROV"  # a GAM that is no referential: no document
    hl7 = settings.hl7.model_copy(update={"trusted_referentials": ["GAM"]})
    trusted = settings.model_copy(update={"hl7": hl7})
    with_document = pam("S3", ipp="700", name="PAT-CINQ") + b"ZFD|||||SM||PA|20310630\r"
    (ack,) = exchange(ctx, trusted, with_document)
    assert parse_ack(ack).code == "AA"
    after = identity_by_ipp(ctx, "700")
    assert after.traits.birth_name == "PAT-CINQ" and after.status.value == "VALI"
    documents = client.get(f"/identities/{identity.id}/documents", headers=auth(settings, "admission")).json()
    assert (documents[0]["type"], documents[0]["checked_by"]) == ("PA", "hl7:GAM^CHU-X")


def test_the_collection_method_is_recorded_and_sent_in_zfd5(ctx, settings, client) -> None:
    subscriber(ctx, "DPI", 1)
    desk = auth(settings, "admission")
    read_from_card = client.post("/identities", json={**DUPONT, "collection_method": "cv"},
                                 headers=desk).json()
    assert read_from_card["collection_method"] == "CV"
    typed = client.post("/identities", json={**DUPONT, "first_names": "Paul"}, headers=desk).json()
    assert typed["collection_method"] == "SM"
    bad = client.post("/identities", json={**DUPONT, "collection_method": "XX"}, headers=desk)
    assert bad.status_code == 422 and bad.json()["field"] == "collection_method"
    exchange(ctx, settings, pam("Z1", event="A28^ADT_A05", ipp="800") + b"ZFD|||||CB\r")
    assert identity_by_ipp(ctx, "800").source == "CB"
    changed = _patch(client, settings, read_from_card, {"birth_name": "Dupond"})
    assert changed.json()["collection_method"] == "SM"  # typed by hand now
    with Session(ctx.engine) as session:
        modes = [r.snapshot["identity_mode"] for r in session.execute(
            select(OutboxMessageRow).order_by(OutboxMessageRow.id)).scalars()]
    assert modes == ["CV", "SM", "CB", "SM"]


def test_recording_a_document_takes_if_match(client, settings) -> None:
    created = client.post("/identities", json=DUPONT, headers=auth(settings, "admission")).json()
    url = f"/identities/{created['id']}/documents"
    assert client.post(url, json=CARD, headers=auth(settings, "admission")).status_code == 428
    stale = client.post(url, json=CARD, headers={**auth(settings, "admission"), "If-Match": '"7"'})
    assert stale.status_code == 412
    assert client.get(url, headers=auth(settings, "admission")).json() == []


def test_the_same_document_is_not_recorded_twice(client, settings) -> None:
    vali = _vali(client, settings)
    again = client.post(f"/identities/{vali['id']}/documents", json=CARD,
                        headers={**auth(settings, "admission"), "If-Match": f'"{vali["version"]}"'})
    assert again.status_code == 409 and again.json()["type"].endswith("document-already-recorded")
    renewed = client.post(f"/identities/{vali['id']}/documents",
                          json={"type": "CN", "expires_on": "2100-01-01"},
                          headers={**auth(settings, "admission"), "If-Match": f'"{vali["version"]}"'})
    assert renewed.status_code == 201  # a new card


def test_the_expiry_date_is_asked_for_documents_that_print_one(client, settings) -> None:
    created = client.post("/identities", json=DUPONT, headers=auth(settings, "admission")).json()
    url = f"/identities/{created['id']}/documents"
    headers = {**auth(settings, "admission"), "If-Match": '"1"'}
    missing = client.post(url, json={"type": "CN"}, headers=headers)
    assert missing.status_code == 422 and missing.json()["field"] == "expires_on"
    both = client.post(url, json={**CARD, "no_expiry_printed": True}, headers=headers)
    assert both.status_code == 422
    old_card = client.post(url, json={"type": "CN", "no_expiry_printed": True}, headers=headers)
    assert old_card.status_code == 201 and old_card.json()["document"]["no_expiry_printed"] is True
    history = client.get(f"/identities/{created['id']}/history", headers=auth(settings, "admission")).json()
    assert history[0]["after"]["no_expiry_printed"] is True and history[0]["after"]["expires_on"] is None
    birth_extract = client.post(url, json={"type": "AN"}, headers={**headers, "If-Match": '"2"'})
    assert birth_extract.status_code == 201  # prints no expiry date: nothing to ask


def test_the_expiry_message_is_french_by_default(client, settings) -> None:
    client.app.state.settings = settings.model_copy(update={"language": "fr"})
    created = client.post("/identities", json=DUPONT, headers=auth(settings, "admission")).json()
    missing = client.post(f"/identities/{created['id']}/documents", json={"type": "PA"},
                          headers={**auth(settings, "admission"), "If-Match": '"1"'})
    assert "date d'expiration" in missing.json()["detail"]
