"""Merging through the API as the identitovigilance cell does it: the pair list, If-Match on the
survivor, the absorbed identity's version in the body, refusals in French, unmerge, roles; and an
A40 from the GAM that breaks a merge rule, answered AE over a real MLLP socket."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.integrations.hl7.parse import parse_ack
from app.services import duplicates, identities, merges
from tests.conftest import auth
from tests.integration.hl7_support import DESK
from tests.integration.test_hl7_inbound import exchange, identity_by_ipp, pam

MARTINE = {"birth_name": "Lefébure", "first_names": "Martine Odile", "birth_date": "1975-06-11", "sex": "F",
           "birth_place_code": "59350"}
TYPED = {**MARTINE, "first_names": "Martine-Odile", "birth_date": "1975-11-06", "confirm_new": True}


def _create(client: TestClient, settings: Settings, body: dict) -> dict:
    response = client.post("/identities", json=body, headers=auth(settings, "admission"))
    assert response.status_code == 201, response.text
    return response.json()


def _merge(client, settings, survivor: dict, absorbed: dict, *, if_match: str | None = None, version=None,
           roles=("identitovigilance",), reason="Même personne : pièce d'identité vérifiée"):
    headers = auth(settings, *roles)
    if if_match is not None:
        headers["If-Match"] = if_match
    body = {"absorbed_id": absorbed["id"], "absorbed_version": version or absorbed["version"],
            "reason": reason}
    return client.post(f"/identities/{survivor['id']}/merge", json=body, headers=headers)


def test_the_cell_merges_a_pair_from_the_list_then_undoes_it(client, settings, ctx) -> None:
    client.app.state.settings = settings.model_copy(update={"language": "fr"})
    survivor, absorbed = _create(client, settings, MARTINE), _create(client, settings, TYPED)
    duplicates.check_all_pending(ctx)
    cell = auth(settings, "identitovigilance")
    [pair] = client.get("/duplicates", headers=cell).json()["items"]
    assert [i["id"] for i in pair["identities"]] == [survivor["id"], absorbed["id"]]

    assert _merge(client, settings, survivor, absorbed).status_code == 428  # If-Match required
    stale = _merge(client, settings, survivor, absorbed, if_match='"1"', version=absorbed["version"] + 5)
    assert stale.status_code == 412 and "rechargez" in stale.json()["detail"]
    denied = _merge(client, settings, survivor, absorbed, if_match='"1"', roles=("admission",))
    assert denied.status_code == 403
    merged = _merge(client, settings, survivor, absorbed, if_match=f'"{survivor["version"]}"')
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == survivor["id"] and merged.headers["ETag"] == f'"{survivor["version"] + 1}"'

    closed = client.get(f"/identities/{absorbed['id']}", headers=cell).json()
    assert (closed["active"], closed["merged_into"]) == (False, survivor["id"])
    by_ipp = client.get(f"/identities?ipp={absorbed['ipp']}", headers=auth(settings, "admission")).json()
    assert [(i["id"], i["merged_into"]) for i in by_ipp["items"]] == [(absorbed["id"], survivor["id"])]
    [record] = client.get(f"/identities/{survivor['id']}/merges", headers=cell).json()
    assert (record["absorbed_id"], record["source"], record["undone"]) == (absorbed["id"], "api", False)
    assert client.get("/duplicates?status=merged", headers=cell).json()["items"][0]["id"] == pair["id"]
    again = _merge(client, settings, survivor, absorbed, if_match=f'"{survivor["version"] + 1}"',
                   version=absorbed["version"] + 1)
    assert again.status_code == 409 and "a été fusionnée dans l'identité" in again.json()["detail"]

    undo = client.post(f"/identities/{absorbed['id']}/unmerge", json={"reason": "Deux personnes distinctes"},
                       headers=cell)
    assert undo.status_code == 200, undo.text
    assert (undo.json()["active"], undo.json()["merged_into"]) == (True, None)
    [record] = client.get(f"/identities/{absorbed['id']}/merges", headers=cell).json()
    assert record["undone"] and record["unmerge_reason"] == "Deux personnes distinctes"
    assert client.get("/duplicates?status=dismissed", headers=cell).json()["items"][0]["id"] == pair["id"]
    history = client.get(f"/identities/{absorbed['id']}/history", headers=cell).json()
    assert [e["action"] for e in history][:1] == ["identity.unmerged"]
    nothing = client.post(f"/identities/{absorbed['id']}/unmerge", json={"reason": "encore"}, headers=cell)
    assert nothing.status_code == 409 and "n'est pas fusionnée" in nothing.json()["detail"]


def test_a_doubtful_identity_is_not_merged_and_the_message_says_what_to_do(client, settings, ctx) -> None:
    client.app.state.settings = settings.model_copy(update={"language": "fr"})
    survivor, absorbed = _create(client, settings, MARTINE), _create(client, settings, TYPED)
    cell = {**auth(settings, "identitovigilance"), "If-Match": f'"{absorbed["version"]}"'}
    doubtful = client.post(f"/identities/{absorbed['id']}/attributes",
                           json={"code": "DOUT", "reason": "doute"}, headers=cell)
    assert doubtful.status_code == 200, doubtful.text
    refused = _merge(client, settings, survivor, doubtful.json(), if_match=f'"{survivor["version"]}"')
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("merge-blocked-attribute")
    assert "porte l'attribut DOUT : levez-le d'abord" in refused.json()["detail"]


def test_an_a40_from_the_gam_goes_through_the_same_rules(ctx, settings) -> None:
    acks = exchange(ctx, settings, pam("M1", ipp="100"), pam("M2", ipp="200", name="PAT-DEUX"),
                    pam("M3", event="A40^ADT_A39", ipp="100", mrg="200"))
    assert [parse_ack(a).code for a in acks] == ["AA", "AA", "AA"]
    survivor, absorbed = identity_by_ipp(ctx, "100"), identity_by_ipp(ctx, "200")
    assert (absorbed.active, absorbed.merged_into) == (False, survivor.id)
    [record] = merges.merges_of(ctx, DESK, survivor.id)
    assert (record.source, record.reason) == ("hl7", "HL7 A40 M3")
    # The GAM merges into an identity Identito knows to be doubtful: AE, quarantined, nothing changed.
    exchange(ctx, settings, pam("M4", ipp="300", name="PAT-TROIS"))
    third = identity_by_ipp(ctx, "300")
    identities.set_attribute(ctx, DESK, third.id, "DOUT", reason="doute")
    (refused,) = exchange(ctx, settings, pam("M5", event="A40^ADT_A39", ipp="100", mrg="300"))
    ack = parse_ack(refused)
    assert (ack.code, ack.error_code) == ("AE", "merge-blocked-attribute")
    assert identity_by_ipp(ctx, "300").active


def test_an_ins_received_alone_is_checked_for_duplicates(ctx, settings) -> None:
    """The GAM sends the same INS for two identities, without any trait change: both hold it as
    received (to verify), and the detection sees the pair (same INS: certain)."""
    ins = b"^PI~275126322074974^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
    deux = {"ipp": "200", "name": "PAT-DEUX", "pid7": "19800101"}
    first = pam("I1", ipp="100").replace(b"^PI||", ins)
    exchange(ctx, settings, pam("I0", ipp="100"), pam("I2", **deux))
    duplicates.check_all_pending(ctx)
    assert duplicates.list_pairs(ctx, DESK, status="open", grade=None, limit=5, offset=0) == []
    second = pam("I3", **deux).replace(b"^PI||", ins)
    acks = exchange(ctx, settings, first, second)
    assert [parse_ack(a).code for a in acks] == ["AA", "AA"]
    duplicates.check_all_pending(ctx)
    [pair] = duplicates.list_pairs(ctx, DESK, status="open", grade=None, limit=5, offset=0)
    assert {pair.low.ipp, pair.high.ipp} == {"100", "200"} and pair.pair.grade == "certain"
