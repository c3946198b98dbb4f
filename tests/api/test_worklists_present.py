"""Worklists reflect the present: an item closes itself with the event that took its cause away, a
retry updates the open item, and a closed item cannot be resolved again (issue 18 item 7).

Through the HTTP API, with the INSi simulator on a real socket.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from app.config import InsiSettings
from app.db.identities import IdentityRepository
from app.db.tables import IdentityDocumentRow, IdentityRow
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.main import create_app
from app.services import worklists
from tests.conftest import auth
from tests.insi_support import *  # noqa: F403

ADRUN = {"birth_name": "ADRUN", "first_names": "ZOE", "sex": "F", "birth_date": "1975-12-31",
         "birth_place_code": "63220"}
ADRUN_INS = "275126322074974"


@pytest.fixture
def api(settings, ctx, sim_http):
    """The API with its INSi gateway on the HTTP simulator."""
    insi = InsiSettings(endpoint=sim_http.url, timeout_seconds=0.8)
    app_settings = settings.model_copy(update={"insi": insi})
    with TestClient(create_app(app_settings, ctx=ctx)) as test_client:
        yield test_client


def desk(settings) -> dict[str, str]:
    return auth(settings, "admission", sub="agent-desk")


def cell(settings) -> dict[str, str]:
    return auth(settings, "identitovigilance", sub="cell-1")


def _create(client: TestClient, settings, **traits: str) -> dict:
    response = client.post("/identities", json=traits, headers=desk(settings))
    assert response.status_code == 201, response.text
    return response.json()


def _retrieve(client: TestClient, settings, identity_id: int):
    url = f"/identities/{identity_id}/insi/retrieve"
    return client.post(url, json={"by": "traits"}, headers=desk(settings))


def _found(client: TestClient, settings, identity_id: int) -> dict:
    response = _retrieve(client, settings, identity_id)
    assert response.status_code == 200, response.text
    return response.json()


def _accept(client: TestClient, settings, identity_id: int, proposal: dict) -> dict:
    headers = {**desk(settings), "If-Match": f'"{proposal["identity_version"]}"'}
    response = client.post(f"/identities/{identity_id}/insi/accept",
                           json={"proposal_id": proposal["proposal_id"]}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _patch(client: TestClient, settings, identity: dict, **changes: str) -> dict:
    response = client.patch(f"/identities/{identity['id']}", json={**changes, "reason": "saisie corrigée"},
                            headers={**desk(settings), "If-Match": f'"{identity["version"]}"'})
    assert response.status_code == 200, response.text
    return response.json()


def _open(client: TestClient, settings, kind: str) -> list[dict]:
    return client.get(f"/worklists/{kind}", headers=cell(settings)).json()["items"]


def _item(client: TestClient, settings, kind: str, item_id: int) -> dict:
    items = client.get(f"/worklists/{kind}", params={"include_resolved": True}, headers=cell(settings)).json()
    return next(i for i in items["items"] if i["id"] == item_id)


def _history(client: TestClient, settings, identity_id: int, action: str) -> list[dict]:
    history = client.get(f"/identities/{identity_id}/history", headers=cell(settings)).json()
    return [h for h in history if h["action"] == action]


def _assert_closed(client: TestClient, settings, kind: str, item_id: int, identity_id: int,
                   event: str) -> None:
    """The item is closed by the event, by the actor of that event, and the history says so."""
    assert item_id not in [i["id"] for i in _open(client, settings, kind)]
    item = _item(client, settings, kind, item_id)
    closing = (item["resolution"], item["closing_event"], item["resolved_by"])
    assert closing == ("automatic", event, "agent-desk")
    assert item["resolved_at"] is not None and item["closing_event_label"]
    closed = _history(client, settings, identity_id, "worklist.closed")
    assert {"item": item_id, "kind": kind, "event": event} in [h["after"] for h in closed]


def test_traits_differ_is_updated_by_a_retry_and_closed_when_the_proposal_is_accepted(api, settings) -> None:
    bernard = _create(api, settings, birth_name="BERNARD", first_names="LUC", sex="M",
                      birth_date="1965-08-20", birth_place_code="75056")
    first = _found(api, settings, bernard["id"])
    assert first["outcome"] == "found" and first["worklist_item_id"] is not None
    second = _found(api, settings, bernard["id"])
    assert second["worklist_item_id"] == first["worklist_item_id"]
    (item,) = _open(api, settings, "traits_differ")
    assert item["id"] == first["worklist_item_id"] and item["occurrences"] == 2
    assert item["last_occurred_at"] >= item["created_at"] and item["details"]["differs"] == ["first_names"]
    repeated = _history(api, settings, bernard["id"], "worklist.repeated")
    assert [h["after"]["occurrences"] for h in repeated] == [2]
    accepted = _accept(api, settings, bernard["id"], second)
    assert accepted["status"] == "RECUP"
    _assert_closed(api, settings, "traits_differ", item["id"], bernard["id"], "insi_traits_applied")
    again = api.post(f"/worklists/items/{item['id']}/resolve",
                     json={"resolution": "confirmed", "reason": "vu"}, headers=cell(settings))
    assert again.status_code == 409
    closed_at = _item(api, settings, "traits_differ", item["id"])["resolved_at"]
    assert again.json()["detail"] == (f"Worklist item {item['id']} was already closed automatically on "
                                      f"{closed_at[:10]} {closed_at[11:16]} UTC: "
                                      "the INSi traits were applied (action of agent-desk).")


@pytest.mark.parametrize(("traits", "event", "now_open"), [
    (ADRUN, "insi_identity_found", None),
    ({"birth_name": "HOUILLES", "first_names": "PIERRE", "sex": "M", "birth_date": "1993-01-27"},
     "insi_answered", "insi_not_found"),
])
def test_insi_unavailable_is_updated_by_a_retry_and_closed_by_a_later_answer(
    api, settings, sim_http, traits, event, now_open
) -> None:
    identity = _create(api, settings, **traits)
    sim_http.behaviour.fault_rate, sim_http.behaviour.fault_kind = 1.0, "unavailable"
    assert _retrieve(api, settings, identity["id"]).status_code == 503
    (item,) = _open(api, settings, "insi_unavailable")
    assert item["outcome"] == "insi-unavailable"
    sim_http.behaviour.fault_kind = "technical"
    assert _retrieve(api, settings, identity["id"]).status_code == 502
    assert [i["id"] for i in _open(api, settings, "insi_unavailable")] == [item["id"]]
    (again,) = _open(api, settings, "insi_unavailable")
    assert (item["occurrences"], again["occurrences"], again["outcome"]) == (1, 2, "insi-technical")
    assert again["details"]["error"] == "insi_102" and again["created_at"] == item["created_at"]
    sim_http.behaviour.fault_rate = 0.0
    assert _retrieve(api, settings, identity["id"]).status_code == 200
    _assert_closed(api, settings, "insi_unavailable", item["id"], identity["id"], event)
    if now_open:
        assert [i["identity_id"] for i in _open(api, settings, now_open)] == [identity["id"]]


@pytest.mark.parametrize(("traits", "correction", "kind"), [
    ({**ADRUN, "birth_name": "ADRUNE"}, {"birth_name": "ADRUN"}, "insi_not_found"),
    ({"birth_name": "LEFORT", "first_names": "ANNE", "sex": "F", "birth_date": "1985-04-12"},
     {"birth_place_code": "69123"}, "insi_ambiguous"),
])
def test_not_found_and_ambiguous_close_once_insi_finds_the_identity(
    api, settings, traits, correction, kind
) -> None:
    identity = _create(api, settings, **traits)
    miss = _found(api, settings, identity["id"])
    assert miss["proposal_id"] is None and miss["worklist_item_id"] is not None
    corrected = _patch(api, settings, identity, **correction)
    assert _found(api, settings, identity["id"])["outcome"] == "found"
    _assert_closed(api, settings, kind, miss["worklist_item_id"], corrected["id"], "insi_identity_found")


def _store_ins(ctx, identity_id: int, matricule: str) -> None:
    """An INS held as qualified (as a trusted referential would have sent it)."""
    with Session(ctx.engine) as session:
        repo = IdentityRepository(session)
        repo.deactivate_ins(identity_id, ctx.now())
        repo.add_ins(identity_id, InsRecord(Ins(matricule, OID_NIR), True, "HL7-TRUSTED"), ctx.now())
        session.execute(update(IdentityRow).where(IdentityRow.id == identity_id).values(status="QUAL"))
        session.commit()


def _failed_verification(api: TestClient, settings, ctx) -> tuple[dict, int]:
    identity = _create(api, settings, **ADRUN)
    _store_ins(ctx, identity["id"], "297022A02077878")
    failed = api.post(f"/identities/{identity['id']}/insi/verify", headers=desk(settings)).json()
    assert failed["verdict"] == "different-ins" and failed["worklist_item_id"] is not None
    return failed["identity"], failed["worklist_item_id"]


def test_verification_failed_closes_after_a_new_accepted_retrieval(api, settings, ctx) -> None:
    identity, item_id = _failed_verification(api, settings, ctx)
    proposal = _found(api, settings, identity["id"])
    assert proposal["outcome"] == "found" and proposal["worklist_item_id"] is None
    _accept(api, settings, identity["id"], proposal)
    _assert_closed(api, settings, "verification_failed", item_id, identity["id"], "insi_traits_applied")


def test_verification_failed_closes_after_a_later_confirmed_verification(api, settings, ctx) -> None:
    identity, item_id = _failed_verification(api, settings, ctx)
    _store_ins(ctx, identity["id"], ADRUN_INS)
    confirmed = api.post(f"/identities/{identity['id']}/insi/verify", headers=desk(settings)).json()
    assert confirmed["verdict"] == "confirmed"
    _assert_closed(api, settings, "verification_failed", item_id, identity["id"], "ins_verified")


def _document(client: TestClient, settings, ctx, identity: dict, doc_type: str, days: int) -> dict:
    body = {"type": doc_type, "expires_on": (ctx.today() + timedelta(days=days)).isoformat()}
    response = client.post(f"/identities/{identity['id']}/documents", json=body,
                           headers={**desk(settings), "If-Match": f'"{identity["version"]}"'})
    assert response.status_code == 201, response.text
    return response.json()


def _expire(ctx, document_id: int) -> None:
    with ctx.engine.begin() as connection:
        connection.execute(update(IdentityDocumentRow).where(IdentityDocumentRow.id == document_id)
                           .values(expires_on=ctx.today() - timedelta(days=1)))


def test_document_expired_closes_when_a_valid_document_is_recorded_or_the_expired_one_withdrawn(
    api, settings, ctx
) -> None:
    identity = _create(api, settings, **ADRUN)
    card = _document(api, settings, ctx, identity, "CN", 30)
    passport = _document(api, settings, ctx, card["identity"], "PA", 60)
    _expire(ctx, card["document"]["id"])
    _expire(ctx, passport["document"]["id"])
    assert worklists.scan_expired_documents(ctx) == 2
    by_document = {i["details"]["document_id"]: i["id"] for i in _open(api, settings, "document_expired")}
    assert set(by_document) == {card["document"]["id"], passport["document"]["id"]}
    withdrawn = api.post(f"/identities/{identity['id']}/documents/{card['document']['id']}/withdraw",
                         json={"reason": "carte périmée"}, headers=desk(settings))
    assert withdrawn.status_code == 200, withdrawn.text
    _assert_closed(api, settings, "document_expired", by_document[card["document"]["id"]], identity["id"],
                   "expired_document_withdrawn")
    still_open = [i["id"] for i in _open(api, settings, "document_expired")]
    assert still_open == [by_document[passport["document"]["id"]]]
    current = api.get(f"/identities/{identity['id']}", headers=desk(settings)).json()
    _document(api, settings, ctx, current, "CS", 365)
    _assert_closed(api, settings, "document_expired", by_document[passport["document"]["id"]], identity["id"],
                   "document_checked")
    assert worklists.scan_expired_documents(ctx) == 0
