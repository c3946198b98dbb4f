"""API: POST /insi/search against the simulator, and the read-only journal GET /insi/calls."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import InsiSettings
from app.main import create_app
from tests.conftest import auth
from tests.insi_support import *  # noqa: F403

ADRUN = {"traits": {"birth_name": "ADRUN", "first_names": ["ZOE"], "sex": "F", "birth_date": "1975-12-31"}}


@pytest.fixture
def api(settings, ctx, sim_http):
    insi_settings = InsiSettings(endpoint=sim_http.url, timeout_seconds=0.8)
    app_settings = settings.model_copy(update={"insi": insi_settings})
    with TestClient(create_app(app_settings, ctx=ctx)) as test_client:
        yield test_client, app_settings


def desk(settings):
    return auth(settings, "admission", sub="agent-desk")


def cell(settings):
    return auth(settings, "identitovigilance", sub="cell-1")


def test_search_returns_the_answer_and_journals_the_call(api):
    client, settings = api
    created = client.post(
        "/identities",
        headers=desk(settings),
        json={"birth_name": "ADRUN", "first_names": "ZOE", "sex": "F", "birth_date": "1975-12-31"},
    )
    identity = created.json()
    response = client.post(
        "/insi/search", headers=desk(settings), json={**ADRUN, "identity_id": identity["id"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "00" and body["label"] == "OK"
    assert body["ins"] == {
        "matricule": "275126322074974",
        "oid": "1.2.250.1.213.1.4.8",
        "start": None,
        "end": None,
    }
    assert body["traits"]["first_names"] == "ZOE" and body["traits"]["birth_place_code"] == "63220"
    after = client.get(f"/identities/{identity['id']}", headers=desk(settings)).json()
    assert after["status"] == identity["status"] and after["version"] == identity["version"]
    calls = client.get("/insi/calls", headers=cell(settings)).json()["items"]
    assert len(calls) == 1
    call = calls[0]
    assert (call["outcome"], call["requested_by"], call["identity_id"]) == (
        "00",
        "agent-desk",
        identity["id"],
    )
    assert call["operation"] == "rechercherInsAvecTraitsIdentite" and call["message_id"] == body["message_id"]
    assert call["credential_mode"] == "simulator" and "ADRUN" not in str(call)


def test_several_and_none_are_answers(api):
    client, settings = api
    several = {
        "traits": {"birth_name": "DURAND", "first_names": ["MARIE"], "sex": "F", "birth_date": "1990-03-03"}
    }
    assert client.post("/insi/search", headers=desk(settings), json=several).json()["code"] == "02"
    none = {
        "traits": {"birth_name": "HOUILLES", "first_names": ["PAUL"], "sex": "M", "birth_date": "1993-01-27"}
    }
    assert client.post("/insi/search", headers=desk(settings), json=none).json()["code"] == "01"
    filtered = client.get("/insi/calls", params={"outcome": "01"}, headers=cell(settings)).json()["items"]
    assert [c["outcome"] for c in filtered] == ["01"]


def test_a_trait_outside_the_profile_is_422_and_nothing_is_sent(api, sim_http):
    client, settings = api
    bad = {"traits": {**ADRUN["traits"], "birth_name": "Adrun"}}
    response = client.post("/insi/search", headers=desk(settings), json=bad)
    assert response.status_code == 422
    assert response.json()["field"] == "birth_name"
    assert list(sim_http.behaviour.received) == []
    assert client.get("/insi/calls", headers=cell(settings)).json()["items"] == []


@pytest.mark.parametrize(
    "setup,status,category,retryable,code",
    [
        ({"fault_rate": 1.0, "fault_kind": "unavailable"}, 503, "unavailable", True, "desir_1020"),
        ({"fault_rate": 1.0, "fault_kind": "technical"}, 502, "technical", True, "insi_102"),
        ({"known_idams": ["SOMEONE-ELSE"]}, 502, "configuration", False, "desir_550"),
        ({"latency_ms": 2000}, 504, "unavailable", True, None),
    ],
)
def test_insi_errors_are_problems_never_not_found(api, sim_http, setup, status, category, retryable, code):
    client, settings = api
    for name, value in setup.items():
        setattr(sim_http.behaviour, name, value)
    response = client.post("/insi/search", headers=desk(settings), json=ADRUN)
    assert response.status_code == status
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (problem["category"], problem["retryable"]) == (category, retryable)
    assert problem.get("insi_code") == code
    journal = client.get("/insi/calls", headers=cell(settings)).json()["items"]
    assert journal[0]["error_category"] == category and journal[0]["outcome"] != "01"


def test_journal_is_for_identitovigilance_and_admin(api):
    client, settings = api
    assert client.get("/insi/calls", headers=desk(settings)).status_code == 403
    assert client.get("/insi/calls", headers=auth(settings, "admin")).status_code == 200


def test_search_needs_exactly_one_kind_of_query(api):
    client, settings = api
    assert client.post("/insi/search", headers=desk(settings), json={}).status_code == 422
    assert client.post("/insi/search", headers=auth(settings, "documents"), json=ADRUN).status_code == 403


def test_vitale_search_through_the_api(api, insi_pki, sim_http):
    from tests.insi_support import desk_assertion

    client, settings = api
    body = {
        "vitale": {
            "insured": {"number": "2751263220749", "key": "74"},
            "birth_name": "ADRUN",
            "birth_date": "1975-12-31",
            "assertion": desk_assertion(insi_pki.auto).decode(),
        },
        "relayed_assertion": desk_assertion(insi_pki.manu).decode(),
    }
    response = client.post("/insi/search", headers=desk(settings), json=body)
    assert response.status_code == 200, response.text
    assert response.json()["ins"]["matricule"] == "275126322074974"
    (call,) = client.get("/insi/calls", headers=cell(settings)).json()["items"]
    assert (call["operation"], call["credential_mode"]) == (
        "rechercherInsAvecCarteVitale",
        "relayed-assertion",
    )


def test_an_expired_relayed_assertion_is_refused_before_any_call(api, insi_pki, sim_http):
    from datetime import UTC, datetime, timedelta

    from tests.insi_support import desk_assertion

    client, settings = api
    stale = desk_assertion(insi_pki.manu, now=datetime.now(UTC) - timedelta(hours=3)).decode()
    response = client.post("/insi/search", headers=desk(settings), json={**ADRUN, "relayed_assertion": stale})
    assert response.status_code == 422 and "expired" in response.json()["detail"]
    assert list(sim_http.behaviour.received) == []


def test_production_never_calls_without_a_credential(database_url, sim_http):
    """A production installation without certificates gets a configuration error, never an answer
    from a simulator (which would store a simulated INS as a real one)."""
    from app.config import Settings

    with pytest.raises(ValueError, match="SIMULATOR"):
        Settings(environment="production", auth={"secret": "s"},
                 insi={"endpoint": sim_http.url, "simulator": True})
    settings = Settings(environment="production", database_url=database_url,
                        auth={"secret": "production-secret"}, insi={"endpoint": sim_http.url}, language="en")
    assert settings.insi.simulator is False
    from jose import jwt

    from tests.api.test_auth import _claims

    token = jwt.encode(_claims(settings), "production-secret", algorithm="HS256")
    with TestClient(create_app(settings)) as client:
        response = client.post("/insi/search", headers={"Authorization": f"Bearer {token}"}, json=ADRUN)
    assert response.status_code == 502
    assert "INSI-MANU" in response.json()["detail"]
    assert len(sim_http.behaviour.received) == 0  # the simulator was never called
