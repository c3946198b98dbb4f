"""Batch campaigns over the simulator: outcomes, auto-apply of exact matches only, report, controls."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import QualificationSettings
from app.db.tables import AuditEventRow
from app.main import create_app
from app.workers.campaigns import CampaignRunner
from tests.conftest import auth
from tests.insi_support import *  # noqa: F403
from tests.insi_support import make_client, settings_for

PEOPLE = {
    "exact": {"birth_name": "ADRUN", "first_names": "ZOE", "sex": "F", "birth_date": "1975-12-31",
              "birth_place_code": "63220"},
    "differ": {"birth_name": "NESSI", "first_names": "NATHALIE", "sex": "F", "birth_date": "1977-07-14"},
    "not_found": {"birth_name": "HOUILLES", "first_names": "PIERRE", "sex": "M", "birth_date": "1993-01-27"},
    "ambiguous": {"birth_name": "LEFORT", "first_names": "ANNE", "sex": "F", "birth_date": "1985-04-12"},
    "unavailable": {"birth_name": "PANNE", "first_names": "SERVICE", "sex": "M", "birth_date": "1970-01-01"},
    "unknown_sex": {"birth_name": "X", "first_names": "Y", "sex": "U", "birth_date": "1990-01-01"},
    "doubtful": {"birth_name": "DURAND", "first_names": "MARIE CLAIRE", "sex": "F",
                 "birth_date": "1990-03-03"},
}
FAST = QualificationSettings(campaign_max_attempts=2, campaign_backoff_base_seconds=0.0,
                             campaign_backoff_cap_seconds=0.0, campaign_breaker_threshold=100)


@pytest.fixture
def cell(settings, ctx, sim_tls, insi_pki, tmp_path) -> Iterator[TestClient]:
    """The API with its gateway on the simulator (INSI-AUTO for campaigns)."""
    ctx.insi_gateway = make_client(settings_for(sim_tls.url, insi_pki), tmp_path)
    with TestClient(create_app(settings, ctx=ctx)) as client:
        yield client
    ctx.insi_gateway.close()


def _people(client: TestClient, settings) -> dict[str, int]:
    ids = {}
    headers = auth(settings, "admission", "identitovigilance")
    for key, traits in PEOPLE.items():
        ids[key] = client.post("/identities", json=traits, headers=headers).json()["id"]
    client.post(f"/identities/{ids['doubtful']}/attributes", json={"code": "DOUT", "reason": "x"},
                headers=headers)
    return ids


def test_campaign_outcomes_and_report(cell, settings, ctx, sim_tls) -> None:
    ids = _people(cell, settings)
    headers = auth(settings, "identitovigilance")
    created = cell.post("/campaigns", json={"name": "rattrapage", "selection": {"eligible": True},
                                            "auto_apply": True, "rate_limit": 0, "concurrency": 3},
                        headers=headers)
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["total"] == 5 and campaign["status"] == "running"  # DOUT and sex U never selected
    assert CampaignRunner(ctx, FAST).run_campaign(campaign["id"]) == "done"
    progress = cell.get(f"/campaigns/{campaign['id']}", headers=headers).json()
    assert progress["done"] == 5 and progress["status"] == "done" and progress["finished_at"]
    assert progress["outcomes"] == {"applied": 1, "traits_differ": 1, "not_found": 1, "ambiguous": 1,
                                    "unavailable": 1}
    lines = cell.get(f"/campaigns/{campaign['id']}/report", headers=headers).json()
    report = {r["identity_id"]: r for r in lines}
    assert report[ids["exact"]]["outcome"] == "applied"
    assert report[ids["unavailable"]]["attempts"] == 2 and report[ids["unavailable"]]["worklist_item_id"]
    exact = cell.get(f"/identities/{ids['exact']}", headers=headers).json()
    assert exact["status"] == "RECUP" and exact["ins"]["matricule"] == "275126322074974"
    differ = cell.get(f"/identities/{ids['differ']}", headers=headers).json()
    assert differ["status"] == "PROV" and differ["ins"] is None  # never applied unless exact
    counts = cell.get("/worklists", headers=headers).json()
    assert counts["traits_differ"] == 1 and counts["insi_not_found"] == 1
    assert counts["insi_ambiguous"] == 1 and counts["insi_unavailable"] == 1
    text = cell.get(f"/campaigns/{campaign['id']}/report?format=csv", headers=headers).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5 and sum(r["outcome"] == "applied" for r in rows) == 1


def test_without_auto_apply_exact_matches_go_to_the_worklist(cell, settings, ctx) -> None:
    ids = _people(cell, settings)
    headers = auth(settings, "identitovigilance")
    campaign = cell.post("/campaigns", json={"name": "c", "selection": {"ids": [ids["exact"]]},
                                             "rate_limit": 0}, headers=headers).json()
    CampaignRunner(ctx, FAST).run_campaign(campaign["id"])
    assert cell.get(f"/campaigns/{campaign['id']}", headers=headers).json()["outcomes"] == {"found": 1}
    assert cell.get(f"/identities/{ids['exact']}", headers=headers).json()["status"] == "PROV"
    items = cell.get("/worklists/insi_found", headers=headers).json()["items"]
    assert [i["identity_id"] for i in items] == [ids["exact"]]


def test_verify_campaign(cell, settings, ctx) -> None:
    ids = _people(cell, settings)
    headers = auth(settings, "identitovigilance")
    first = cell.post("/campaigns", json={"name": "q", "selection": {"ids": [ids["exact"]]},
                                          "auto_apply": True, "rate_limit": 0}, headers=headers).json()
    CampaignRunner(ctx, FAST).run_campaign(first["id"])
    verify = cell.post("/campaigns", json={"name": "v", "operation": "verify",
                                           "selection": {"statuses": ["RECUP"]}, "rate_limit": 0},
                       headers=headers).json()
    assert verify["total"] == 1
    CampaignRunner(ctx, FAST).run_campaign(verify["id"])
    assert cell.get(f"/campaigns/{verify['id']}", headers=headers).json()["outcomes"] == {"confirmed": 1}


def test_pause_resume_cancel(cell, settings, ctx) -> None:
    ids = _people(cell, settings)
    headers = auth(settings, "identitovigilance")
    campaign = cell.post("/campaigns", json={"name": "c", "selection": {"eligible": True}, "rate_limit": 0},
                         headers=headers).json()
    url = f"/campaigns/{campaign['id']}"
    assert cell.post(f"{url}/pause", headers=headers).json()["status"] == "paused"
    assert cell.post(f"{url}/pause", headers=headers).status_code == 409
    assert CampaignRunner(ctx, FAST).run_campaign(campaign["id"]) == "paused"
    assert cell.get(url, headers=headers).json()["done"] == 0
    assert cell.post(f"{url}/resume", headers=headers).json()["status"] == "running"
    cancelled = cell.post(f"{url}/cancel", headers=headers).json()
    assert cancelled["status"] == "cancelled" and cancelled["outcomes"] == {"cancelled": 5}
    assert cell.get(f"/identities/{ids['exact']}", headers=headers).json()["status"] == "PROV"
    assert cell.post("/campaigns", json={"name": "c", "selection": {}}, headers=headers).status_code == 422
    assert cell.post("/campaigns", json={"name": "c", "selection": {"eligible": True}},
                     headers=auth(settings, "admission")).status_code == 403


def _pauses(ctx, campaign_id: int) -> list[tuple[str, str, dict, str | None]]:
    """The audit rows of the pauses of a campaign: actor, roles, what, reason."""
    query = select(AuditEventRow.actor, AuditEventRow.roles, AuditEventRow.after, AuditEventRow.reason).where(
        AuditEventRow.action == "campaign.pause").order_by(AuditEventRow.id)
    with ctx.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query) if row.after["campaign"] == campaign_id]


def test_a_configuration_fault_pauses_the_campaign_like_a_person_with_its_audit_row(cell, settings, ctx,
                                                                                   sim_tls) -> None:
    _people(cell, settings)
    headers = auth(settings, "identitovigilance")
    sim_tls.behaviour.known_idams = ["SOMEONE-ELSE"]  # INSi refuses the IDAM: every call would fail
    campaign = cell.post("/campaigns", json={"name": "c", "selection": {"eligible": True}, "rate_limit": 0,
                                             "concurrency": 2}, headers=headers).json()
    assert CampaignRunner(ctx, FAST).run_campaign(campaign["id"]) == "paused"
    progress = cell.get(f"/campaigns/{campaign['id']}", headers=headers).json()
    assert progress["status"] == "paused" and progress["done"] == 0 and progress["in_flight"] == 0
    # One audit row, on behalf of the runner, with INSi's error as the reason.
    assert _pauses(ctx, campaign["id"]) == [
        ("job:campaign-runner", "identitovigilance", {"campaign": campaign["id"]}, "desir_550")]

    # A person resumes it and pauses it again: the same kind of row, with the person as actor.
    sim_tls.behaviour.known_idams = ["IDENTITO-DEV"]
    assert cell.post(f"/campaigns/{campaign['id']}/resume", headers=headers).json()["status"] == "running"
    assert cell.post(f"/campaigns/{campaign['id']}/pause", headers=headers).json()["status"] == "paused"
    by_person = ("agent-1", "identitovigilance", {"campaign": campaign["id"]}, None)
    assert _pauses(ctx, campaign["id"])[1:] == [by_person]
