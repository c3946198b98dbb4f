"""Regressions of what the schema fuzzing (tests/fuzz) found: each was a 500 or an undocumented answer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.api.problems import MEDIA_TYPE
from app.config import Settings
from app.main import create_app
from tests.api.test_hl7_api import SUB
from tests.conftest import auth


def _subscriber(client: TestClient, settings: Settings) -> int:
    created = client.post("/subscribers", json=SUB, headers=auth(settings, "admin"))
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _replays(client: TestClient, settings: Settings, sid: int) -> list[dict]:
    return client.get(f"/subscribers/{sid}/replay", headers=auth(settings, "admin")).json()


def test_a_replay_range_without_its_end_is_refused_not_a_server_error(client, settings):
    sid = _subscriber(client, settings)
    refused = client.post(f"/subscribers/{sid}/replay", json={"from_at": "2026-01-01T00:00:00Z"},
                          headers=auth(settings, "admin"))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == MEDIA_TYPE
    assert refused.json()["type"].endswith("replay-range-incomplete")
    assert refused.json()["field"] == "to_at"
    reversed_ = client.post(f"/subscribers/{sid}/replay", headers=auth(settings, "admin"),
                            json={"from_at": "2026-02-01T00:00:00Z", "to_at": "2026-01-01T00:00:00Z"})
    assert reversed_.status_code == 422
    assert reversed_.json()["type"].endswith("replay-range-reversed")
    assert _replays(client, settings, sid) == []  # nothing written


def test_a_replay_range_may_mix_times_with_and_without_offset(client, settings):
    sid = _subscriber(client, settings)
    started = client.post(f"/subscribers/{sid}/replay", headers=auth(settings, "admin"),
                          json={"from_at": "2026-01-01T00:00:00", "to_at": "2026-02-01T00:00:00+01:00"})
    assert started.status_code == 202, started.text
    assert len(_replays(client, settings, sid)) == 1


def test_a_replay_of_an_unknown_identity_is_not_found(client, settings):
    sid = _subscriber(client, settings)
    missing = client.post(f"/subscribers/{sid}/replay", json={"identity_id": -11},
                          headers=auth(settings, "admin"))
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"] == MEDIA_TYPE
    assert _replays(client, settings, sid) == []


def test_campaign_selection_bounds_are_checked(client, settings):
    cell = auth(settings, "identitovigilance")
    for selection, field in (({"insi_older_than_days": 2_373_431}, "selection.insi_older_than_days"),
                             ({"ids": [1, 9051770481144488814341783552]}, "selection.ids.1")):
        refused = client.post("/campaigns", json={"name": "x", "selection": selection}, headers=cell)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field
    assert client.get("/campaigns", headers=cell).json() == []


def test_an_unreadable_body_is_a_french_400_problem(settings, ctx):
    french = settings.model_copy(update={"language": "fr"})
    with TestClient(create_app(french, ctx=ctx)) as client:
        answer = client.post("/identities", content=b"\xff\xfe{", headers={
            **auth(settings, "admission"), "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == MEDIA_TYPE
    assert answer.json()["detail"].startswith("Le contenu de la requête est illisible")


def test_the_document_declares_problem_documents(client):
    document = client.get("/openapi.json").json()
    create = document["paths"]["/identities"]["post"]["responses"]
    for status in ("400", "401", "403", "409", "422", "503"):
        assert MEDIA_TYPE in create[status]["content"], status
    assert "HTTPValidationError" not in str(create["422"])
    update = document["paths"]["/identities/{identity_id}"]["patch"]["responses"]
    assert {"404", "412", "428"} <= set(update)
    printable = document["paths"]["/identities/{identity_id}/datamatrix.png"]["get"]["responses"]
    assert MEDIA_TYPE in printable["409"]["content"]  # INS not printable (EXI SI 08)
    assert {"502", "504"} <= set(document["paths"]["/insi/search"]["post"]["responses"])
    assert "401" not in document["paths"]["/health"]["get"]["responses"]


def test_a_subscriber_field_sent_as_null_is_left_as_it_is(client, settings):
    sid = _subscriber(client, settings)
    changed = client.patch(f"/subscribers/{sid}", headers=auth(settings, "admin"),
                           json={"tls": None, "name": None, "host": None, "port": 2576})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["host"], changed.json()["port"]) == (
        SUB["name"], SUB["host"], 2576)


def test_an_id_beyond_64_bits_is_an_invalid_value_not_a_server_error(client, settings):
    huge = 2**70
    printed = client.get(f"/identities/{huge}/cover-page.pdf", headers=auth(settings, "documents"))
    cell = auth(settings, "identitovigilance")
    resolved = client.post(f"/identities/{huge}/collision/resolve", headers=cell,
                           json={"action": "set_aside_ins", "reason": "Collision vérifiée"})
    for answer in (printed, resolved):
        assert answer.status_code in (404, 422), answer.text
        assert answer.headers["content-type"] == MEDIA_TYPE


def test_the_campaign_report_declares_its_csv_form(client):
    report = client.get("/openapi.json").json()["paths"]["/campaigns/{campaign_id}/report"]["get"]
    assert set(report["responses"]["200"]["content"]) == {"application/json", "text/csv"}


def test_renaming_a_subscriber_to_a_taken_name_is_a_conflict(client, settings):
    admin = auth(settings, "admin")
    first = _subscriber(client, settings)
    second = client.post("/subscribers", json={**SUB, "name": "LABO"}, headers=admin).json()["id"]
    taken = client.patch(f"/subscribers/{second}", json={"name": SUB["name"]}, headers=admin)
    assert taken.status_code == 409, taken.text
    assert taken.json()["type"].endswith("subscriber-exists") and taken.json()["field"] == "name"
    assert client.get(f"/subscribers/{second}", headers=admin).json()["name"] == "LABO"
    same = client.patch(f"/subscribers/{first}", json={"name": SUB["name"], "port": 2580}, headers=admin)
    assert same.status_code == 200 and same.json()["port"] == 2580  # its own name is not "taken"
