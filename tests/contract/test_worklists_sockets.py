"""Worklists reflect the present, over real sockets: campaigns (INSI-AUTO over mutual TLS) update
their open item on a retry and close it when they apply the INSi traits; an INS received over MLLP
stops asking for verification once the identity got its INS from INSi (issue 18 item 7)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import QualificationSettings
from app.integrations.hl7.mllp import MllpClient
from app.integrations.hl7.parse import parse_ack
from app.main import create_app
from app.workers.campaigns import CampaignRunner
from app.workers.mllp_listener import build_server
from tests.conftest import auth
from tests.hl7_samples import ans_sample
from tests.insi_support import *  # noqa: F403
from tests.insi_support import make_client, settings_for

ADRUN = {"birth_name": "ADRUN", "first_names": "ZOE", "sex": "F", "birth_date": "1975-12-31",
         "birth_place_code": "63220"}
FAST = QualificationSettings(campaign_max_attempts=2, campaign_backoff_base_seconds=0.0,
                             campaign_backoff_cap_seconds=0.0, campaign_breaker_threshold=100)


@pytest.fixture
def api(settings, ctx, sim_tls, insi_pki, tmp_path) -> Iterator[TestClient]:
    """The API with its gateway on the simulator over mutual TLS (INSI-MANU desk, INSI-AUTO campaigns)."""
    ctx.insi_gateway = make_client(settings_for(sim_tls.url, insi_pki), tmp_path)
    with TestClient(create_app(settings, ctx=ctx)) as client:
        yield client
    ctx.insi_gateway.close()


def _items(client: TestClient, settings, kind: str) -> list[dict]:
    headers, params = auth(settings, "identitovigilance"), {"include_resolved": True}
    return client.get(f"/worklists/{kind}", params=params, headers=headers).json()["items"]


def _campaign(client: TestClient, settings, ctx, identity_id: int, *, auto_apply: bool) -> dict:
    headers = auth(settings, "identitovigilance")
    body = {"name": "c", "selection": {"ids": [identity_id]}, "rate_limit": 0, "auto_apply": auto_apply}
    campaign = client.post("/campaigns", json=body, headers=headers).json()
    assert CampaignRunner(ctx, FAST).run_campaign(campaign["id"]) == "done"
    (row,) = client.get(f"/campaigns/{campaign['id']}/report", headers=headers).json()
    return {"id": campaign["id"], **row}


def test_a_campaign_retry_updates_its_item_and_auto_apply_closes_it(api, settings, ctx) -> None:
    headers = auth(settings, "admission", "identitovigilance")
    identity = api.post("/identities", json=ADRUN, headers=headers).json()
    first = _campaign(api, settings, ctx, identity["id"], auto_apply=False)
    second = _campaign(api, settings, ctx, identity["id"], auto_apply=False)
    assert (first["outcome"], second["outcome"]) == ("found", "found")
    assert first["worklist_item_id"] and second["worklist_item_id"] == first["worklist_item_id"]
    (item,) = _items(api, settings, "insi_found")
    assert (item["id"], item["occurrences"], item["resolved_at"]) == (first["worklist_item_id"], 2, None)
    applied = _campaign(api, settings, ctx, identity["id"], auto_apply=True)
    assert applied["outcome"] == "applied"
    (item,) = _items(api, settings, "insi_found")
    assert (item["resolution"], item["closing_event"]) == ("automatic", "insi_traits_applied")
    assert item["resolved_by"] == f"campaign:{applied['id']}"
    history = api.get(f"/identities/{identity['id']}/history", headers=headers).json()
    assert {"item": item["id"], "kind": "insi_found", "event": "insi_traits_applied"} in [
        h["after"] for h in history if h["action"] == "worklist.closed"]


def _adrun_from_the_gam() -> bytes:
    """The ANS sample, for a person INSi knows, with her INS (the GAM is not a trusted referential)."""
    text = ans_sample().decode()
    for old, new in [("000003^", "000777^"), ("279035121518989", "275126322074974"),
                     ("PAT-TROIS^DOMINIQUE^DOMINIQUE", "ADRUN^ZOE^ZOE"), ("19790328", "19751231"),
                     ("|3975|", "|3976|")]:
        assert old in text
        text = text.replace(old, new)
    return text.encode()


def _send(ctx, settings, message: bytes) -> bytes:
    async def scenario() -> bytes:
        async with (
            build_server(ctx, settings, host="127.0.0.1", port=0) as server,
            MllpClient("127.0.0.1", server.port) as client,
        ):
            return await client.send(message)

    return asyncio.run(scenario())


def test_ins_received_closes_once_the_identity_got_its_ins_from_insi(api, settings, ctx) -> None:
    assert parse_ack(_send(ctx, settings, _adrun_from_the_gam())).code == "AA"
    (item,) = _items(api, settings, "ins_received")
    headers = auth(settings, "admission", sub="agent-desk")
    identity_id = item["identity_id"]
    url = f"/identities/{identity_id}/insi"
    proposal = api.post(f"{url}/retrieve", json={"by": "traits"}, headers=headers).json()
    assert proposal["outcome"] == "found" and proposal["ins"]["matricule"] == "275126322074974"
    assert _items(api, settings, "ins_received")[0]["resolved_at"] is None  # a proposal is not yet the INS
    accepted = api.post(f"{url}/accept", json={"proposal_id": proposal["proposal_id"]},
                        headers={**headers, "If-Match": f'"{proposal["identity_version"]}"'})
    assert accepted.status_code == 200, accepted.text
    assert api.get("/worklists", headers=auth(settings, "identitovigilance")).json()["ins_received"] == 0
    (item,) = _items(api, settings, "ins_received")
    closing = (item["resolution"], item["closing_event"], item["resolved_by"])
    assert closing == ("automatic", "insi_traits_applied", "agent-desk")
