"""Duplicate detection through the API: candidates, 409 probable-duplicate and confirm_new, the pair
list side by side, dismissal, scans, roles."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from app.config import Settings
from app.services import duplicates
from app.workers.duplicates import DuplicateWorker
from tests.conftest import auth

MARTINE = {"birth_name": "Lefébure", "first_names": "Martine Odile", "birth_date": "1975-06-11", "sex": "F",
           "birth_place_code": "59350"}
# The same woman at another desk: 06/11 typed 11/06, first names hyphenated.
TYPED = {**MARTINE, "first_names": "Martine-Odile", "birth_date": "1975-11-06"}
OTHER = {"birth_name": "Lefébure", "first_names": "Paul", "birth_date": "1948-01-30", "sex": "M"}


def _post(client: TestClient, settings: Settings, path: str, body: dict, *roles: str):
    return client.post(path, json=body, headers=auth(settings, *(roles or ("admission",))))


def _create(client: TestClient, settings: Settings, body: dict) -> dict:
    response = _post(client, settings, "/identities", body)
    assert response.status_code == 201, response.text
    return response.json()


def test_candidates_ranked_and_explained(client, settings) -> None:
    martine = _create(client, settings, MARTINE)
    _create(client, settings, OTHER)
    response = _post(client, settings, "/identities/candidates", TYPED)
    assert response.status_code == 200, response.text
    [candidate] = response.json()  # PAUL, born 1948, is no candidate
    assert candidate["identity"]["id"] == martine["id"] and candidate["grade"] == "probable"
    assert 0.9 <= candidate["score"] < 0.99
    lines = {line["trait"]: line for line in candidate["explanation"]}
    assert list(lines) == ["ins", "birth_name", "first_names", "birth_date", "sex", "birth_place_code"]
    assert lines["birth_date"] == {"trait": "birth_date", "level": "typo", "code": "day-month-swap",
                                   "weight": lines["birth_date"]["weight"]}
    assert lines["first_names"]["code"] == "separators" and lines["birth_date"]["weight"] > 0
    assert "1975" not in str(candidate["explanation"])  # levels and weights, never a value
    # The same check for the identitovigilance cell; invalid traits are refused as at creation.
    assert _post(client, settings, "/identities/candidates", TYPED, "identitovigilance").status_code == 200
    bad = _post(client, settings, "/identities/candidates", {**TYPED, "birth_date": "1975-13-45"})
    assert bad.status_code == 422
    limited = client.post("/identities/candidates?limit=0", json=TYPED, headers=auth(settings, "admission"))
    assert limited.status_code == 422


def test_probable_duplicate_refused_in_french_then_confirmed_and_audited(client, settings) -> None:
    client.app.state.settings = settings.model_copy(update={"language": "fr"})
    martine = _create(client, settings, MARTINE)
    refused = _post(client, settings, "/identities", TYPED)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "urn:identito:problem:probable-duplicate"
    assert problem["title"] == "Doublon probable d'une identité existante"
    assert "ressemblent à 1 identité(s) existante(s)" in problem["detail"]
    assert "confirm_new" in problem["detail"]
    assert [(c["identity"]["id"], c["grade"]) for c in problem["candidates"]] == [(martine["id"], "probable")]
    assert problem["candidates"][0]["explanation"][3]["code"] == "day-month-swap"

    created = _create(client, settings, {**TYPED, "confirm_new": True})
    cell = auth(settings, "identitovigilance")
    history = client.get(f"/identities/{created['id']}/history", headers=cell).json()
    confirmed = next(e for e in history if e["action"] == "identity.created_despite_duplicates")
    assert confirmed["actor"] == "agent-1"
    assert [(c["identity_id"], c["grade"]) for c in confirmed["after"]["candidates"]] == [
        (martine["id"], "probable")]
    # The pair is proposed to the cell, found at the desk, with its worklist item.
    pairs = client.get("/duplicates", headers=cell).json()["items"]
    assert [(p["found_by"], [i["id"] for i in p["identities"]]) for p in pairs] == [
        ("desk", [martine["id"], created["id"]])]
    items = client.get("/worklists/potential_duplicate", headers=cell).json()["items"]
    assert [(i["identity_id"], i["other_identity_id"]) for i in items] == [(created["id"], martine["id"])]
    assert items[0]["suggested_action"].startswith("Deux identités désignent peut-être la même personne")
    assert items[0]["kind_label"] == "Doublon potentiel"


def test_pairs_side_by_side_and_dismissal(client, settings, ctx) -> None:
    martine = _create(client, settings, MARTINE)
    typed = _create(client, settings, {**TYPED, "confirm_new": True})
    cell = auth(settings, "identitovigilance", sub="ivg-7")
    page = client.get("/duplicates", params={"grade": "probable"}, headers=cell).json()
    [pair] = page["items"]
    assert page["has_more"] is False
    left, right = pair["identities"]
    assert (left["id"], left["birth_date"], right["id"], right["birth_date"]) == (
        martine["id"], "1975-06-11", typed["id"], "1975-11-06")
    assert pair["status"] == "open" and pair["grade"] == "probable" and len(pair["explanation"]) == 6
    assert client.get("/duplicates", params={"grade": "certain"}, headers=cell).json()["items"] == []
    assert client.get(f"/duplicates/{pair['id']}", headers=cell).json()["id"] == pair["id"]
    assert client.get("/duplicates", params={"grade": "sure"}, headers=cell).status_code == 422
    assert client.get("/duplicates/999", headers=cell).status_code == 404

    no_reason = client.post(f"/duplicates/{pair['id']}/dismiss", json={}, headers=cell)
    assert no_reason.status_code == 422
    done = client.post(f"/duplicates/{pair['id']}/dismiss", json={"reason": "soeurs jumelles"}, headers=cell)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["decided_by"], done.json()["reason"]) == (
        "dismissed", "ivg-7", "soeurs jumelles")
    again = client.post(f"/duplicates/{pair['id']}/dismiss", json={"reason": "x"}, headers=cell)
    assert again.status_code == 409
    assert client.get("/duplicates", headers=cell).json()["items"] == []
    dismissed = client.get("/duplicates", params={"status": "dismissed"}, headers=cell).json()["items"]
    assert [p["id"] for p in dismissed] == [pair["id"]]
    history = client.get(f"/identities/{martine['id']}/history", headers=cell).json()
    assert history[0]["action"] == "duplicate.dismissed" and history[0]["reason"] == "soeurs jumelles"
    # The detection job checks both identities again: the dismissed pair stays dismissed.
    duplicates.check_all_pending(ctx)
    assert client.get("/duplicates", headers=cell).json()["items"] == []


def test_scan_requested_run_by_the_worker_and_followed(client, settings, ctx) -> None:
    _create(client, settings, MARTINE)
    _create(client, settings, {**TYPED, "confirm_new": True})
    cell = auth(settings, "identitovigilance")
    queued = client.post("/duplicates/scans", headers=cell)
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    scan_id = queued.json()["id"]
    assert queued.headers["Location"] == f"/duplicates/scans/{scan_id}"
    assert client.post("/duplicates/scans", headers=cell).json()["id"] == scan_id  # one at a time
    worker = DuplicateWorker(ctx, settings.duplicates, threading.Event(), runner="test-worker")
    assert worker.scan_once() is True and worker.scan_once() is False
    done = client.get(f"/duplicates/scans/{scan_id}", headers=cell).json()
    assert (done["status"], done["identities_total"], done["identities_done"], done["progress"]) == (
        "done", 2, 2, 1.0)
    assert done["pairs_found"] == done["pairs_alert"] == 1 and done["comparisons"] == 1
    assert done["figures"]["block_cap"] == settings.duplicates.block_cap
    assert client.get("/duplicates/scans/999", headers=cell).status_code == 404


def test_the_detection_lag_is_a_metric(client, settings, ctx) -> None:
    _create(client, settings, MARTINE)
    assert "identito_duplicate_checks_queued 1" in client.get("/metrics").text
    duplicates.check_all_pending(ctx)
    assert "identito_duplicate_checks_queued 0" in client.get("/metrics").text


def test_roles(client, settings) -> None:
    _create(client, settings, MARTINE)
    documents = auth(settings, "documents")
    desk = auth(settings, "admission")
    assert client.post("/identities/candidates", json=TYPED, headers=documents).status_code == 403
    integration = auth(settings, "integration")
    assert client.post("/identities/candidates", json=TYPED, headers=integration).status_code == 403
    for headers in (documents, desk):
        assert client.get("/duplicates", headers=headers).status_code == 403
        assert client.post("/duplicates/scans", headers=headers).status_code == 403
        assert client.post("/duplicates/1/dismiss", json={"reason": "x"}, headers=headers).status_code == 403
    assert client.post("/identities/candidates", json=TYPED).status_code == 401
