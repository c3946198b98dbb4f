"""Desk qualification end to end: REST API -> services -> INSi client -> simulator over mutual TLS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.db.identities import IdentityRepository
from app.db.tables import IdentityRow
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.main import create_app
from tests.conftest import auth
from tests.insi_support import *  # noqa: F403
from tests.insi_support import make_client, settings_for


@pytest.fixture
def desk(settings, ctx, sim_tls, insi_pki, tmp_path) -> Iterator[TestClient]:
    """The API with its INSi gateway on the simulator (mutual TLS, INSI-MANU for the desk)."""
    gateway = make_client(settings_for(sim_tls.url, insi_pki), tmp_path)
    ctx.insi_gateway = gateway
    with TestClient(create_app(settings, ctx=ctx)) as client:
        yield client
    gateway.close()


def _headers(settings, *roles: str) -> dict[str, str]:
    return auth(settings, *(roles or ("admission", "identitovigilance")))


def _create(client: TestClient, settings, **traits: str | bool) -> dict:
    response = client.post("/identities", json=traits, headers=_headers(settings))
    assert response.status_code == 201, response.text
    return response.json()


def _retrieve(client: TestClient, settings, identity_id: int) -> dict:
    response = client.post(f"/identities/{identity_id}/insi/retrieve", json={"by": "traits"},
                           headers=_headers(settings))
    assert response.status_code == 200, response.text
    return response.json()


def _accept(client: TestClient, settings, identity_id: int, proposal: dict):
    return client.post(f"/identities/{identity_id}/insi/accept",
                       json={"proposal_id": proposal["proposal_id"]},
                       headers={**_headers(settings), "If-Match": f'"{proposal["identity_version"]}"'})


def _worklist(client: TestClient, settings, kind: str) -> list[dict]:
    return client.get(f"/worklists/{kind}", headers=_headers(settings)).json()["items"]


ADRUN_ZOE = {"birth_name": "adrun", "first_names": "zoé", "sex": "F", "birth_date": "1975-12-31"}


def test_prov_recup_qual(desk, settings) -> None:
    created = _create(desk, settings, **ADRUN_ZOE, used_name="Martin")
    proposal = _retrieve(desk, settings, created["id"])
    assert proposal["outcome"] == "found" and proposal["status_after_accept"] == "RECUP"
    assert proposal["ins"]["matricule"] == "275126322074974"
    rows = {c["trait"]: c for c in proposal["comparison"]}
    assert rows["birth_name"]["result"] == "equal"
    assert rows["birth_place_code"] == {"trait": "birth_place_code", "local": None, "insi": "63220",
                                        "result": "missing"}
    assert desk.get(f"/identities/{created['id']}", headers=_headers(settings)).json()["status"] == "PROV"
    accepted = _accept(desk, settings, created["id"], proposal)
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "RECUP" and body["birth_place_code"] == "63220" and body["used_name"] == "MARTIN"
    assert body["ins"] == {"matricule": "275126322074974", "oid": OID_NIR, "nature": "NIR",
                           "transmissible": False}
    assert body["insi_at"] is not None
    assert body["collection_method"] == "INSI"  # the traits now come from the teleservice (ZFD-5)
    doc = desk.post(f"/identities/{created['id']}/documents", json={"type": "CN", "expires_on": "2099-01-01"},
                    headers={**_headers(settings), "If-Match": f'"{body["version"]}"'})
    assert (
        doc.json()["identity"]["status"] == "QUAL"
        and doc.json()["identity"]["ins"]["transmissible"] is True
    )
    history = desk.get(f"/identities/{created['id']}/history", headers=_headers(settings)).json()
    accepted_event = next(h for h in history if h["action"] == "insi.accepted")
    assert accepted_event["before"]["birth_place_code"] is None
    assert accepted_event["after"]["birth_place_code"] == "63220"


def test_vali_to_qual(desk, settings) -> None:
    created = _create(desk, settings, birth_name="Nessi", first_names="Nathalie", sex="F",
                      birth_date="1977-07-14", birth_place_code="63220")
    desk.post(f"/identities/{created['id']}/documents", json={"type": "PA", "expires_on": "2099-01-01"},
              headers={**_headers(settings), "If-Match": '"1"'})
    proposal = _retrieve(desk, settings, created["id"])
    assert proposal["status"] == "VALI" and proposal["status_after_accept"] == "QUAL"
    assert all(c["result"] == "equal" for c in proposal["comparison"])
    assert _worklist(desk, settings, "traits_differ") == []
    assert _accept(desk, settings, created["id"], proposal).json()["status"] == "QUAL"


def test_not_found_opens_a_worklist_item_with_a_hint(desk, settings) -> None:
    created = _create(desk, settings, birth_name="Houilles", first_names="Pierre", sex="M",
                      birth_date="1993-01-27", used_name="Dupont")
    result = _retrieve(desk, settings, created["id"])
    assert result["outcome"] == "not_found" and result["proposal_id"] is None
    items = _worklist(desk, settings, "insi_not_found")
    assert [i["identity_id"] for i in items] == [created["id"]]
    assert "used name" in items[0]["suggested_action"]


def test_02_resolved_by_first_names(desk, settings) -> None:
    created = _create(desk, settings, birth_name="Durand", first_names="Marie Claire", sex="F",
                      birth_date="1990-03-03")
    result = _retrieve(desk, settings, created["id"])
    assert result["outcome"] == "found" and result["ins"]["matricule"] == "290031305501719"
    assert [a["step"] for a in result["attempts"]] == ["first-name", "all-first-names"]
    assert [a["code"] for a in result["attempts"]] == ["02", "00"]


def test_02_resolved_by_birth_place_and_unresolved(desk, settings) -> None:
    lyon = _create(desk, settings, birth_name="Lefort", first_names="Anne", sex="F", birth_date="1985-04-12",
                   birth_place_code="69123")
    result = _retrieve(desk, settings, lyon["id"])
    assert result["outcome"] == "found" and result["ins"]["matricule"] == "285046912304496"
    assert [a["step"] for a in result["attempts"]][-1] == "birth-place"
    unknown = _create(desk, settings, birth_name="Lefort", first_names="Anne", sex="F",
                      birth_date="1985-04-12", confirm_new=True)  # the desk says: another person
    ambiguous = _retrieve(desk, settings, unknown["id"])
    assert ambiguous["outcome"] == "ambiguous" and ambiguous["proposal_id"] is None
    assert [i["identity_id"] for i in _worklist(desk, settings, "insi_ambiguous")] == [unknown["id"]]


def test_fault_leaves_identity_untouched_and_opens_item(desk, settings) -> None:
    created = _create(desk, settings, birth_name="Panne", first_names="Service", sex="M",
                      birth_date="1970-01-01")
    response = desk.post(f"/identities/{created['id']}/insi/retrieve", json={"by": "traits"},
                         headers=_headers(settings))
    assert response.status_code == 503
    assert response.json()["type"].endswith("insi-unavailable")
    after = desk.get(f"/identities/{created['id']}", headers=_headers(settings)).json()
    assert after == created
    assert [i["identity_id"] for i in _worklist(desk, settings, "insi_unavailable")] == [created["id"]]
    assert _worklist(desk, settings, "insi_not_found") == []


def test_refusals(desk, settings) -> None:
    doubtful = _create(desk, settings, **ADRUN_ZOE)
    desk.post(f"/identities/{doubtful['id']}/attributes", json={"code": "DOUT", "reason": "incohérence"},
              headers=_headers(settings))
    refused = desk.post(f"/identities/{doubtful['id']}/insi/retrieve", json={"by": "traits"},
                        headers=_headers(settings))
    assert refused.status_code == 409 and "DOUT" in refused.json()["detail"]
    unknown_sex = _create(desk, settings, birth_name="X", first_names="Y", sex="U", birth_date="1990")
    assert desk.post(f"/identities/{unknown_sex['id']}/insi/retrieve", json={"by": "traits"},
                     headers=_headers(settings)).status_code == 409


def test_stale_and_expired_proposals_are_refused(desk, settings, ctx) -> None:
    created = _create(desk, settings, **ADRUN_ZOE)
    proposal = _retrieve(desk, settings, created["id"])
    desk.patch(f"/identities/{created['id']}", json={"used_name": "Martin"},
               headers={**_headers(settings), "If-Match": '"1"'})
    stale = desk.post(f"/identities/{created['id']}/insi/accept",
                      json={"proposal_id": proposal["proposal_id"]},
                      headers={**_headers(settings), "If-Match": '"2"'})
    assert stale.status_code == 409 and stale.json()["type"].endswith("proposal-stale")
    ctx.proposal_ttl_seconds = 0
    fresh = _retrieve(desk, settings, created["id"])
    expired = _accept(desk, settings, created["id"], fresh)
    assert expired.status_code == 409 and expired.json()["type"].endswith("proposal-expired")
    assert desk.get(f"/identities/{created['id']}", headers=_headers(settings)).json()["status"] == "PROV"


def test_reject_records_the_reason(desk, settings) -> None:
    created = _create(desk, settings, **ADRUN_ZOE)
    proposal = _retrieve(desk, settings, created["id"])
    rejected = desk.post(f"/identities/{created['id']}/insi/reject",
                         json={"proposal_id": proposal["proposal_id"], "reason": "pas la bonne personne"},
                         headers=_headers(settings))
    assert rejected.status_code == 204
    assert _accept(desk, settings, created["id"], proposal).status_code == 409
    history = desk.get(f"/identities/{created['id']}/history", headers=_headers(settings)).json()
    assert history[0]["action"] == "insi.rejected" and history[0]["reason"] == "pas la bonne personne"


def test_collision_is_detected(desk, settings) -> None:
    first = _create(desk, settings, **ADRUN_ZOE)
    _accept(desk, settings, first["id"], _retrieve(desk, settings, first["id"]))
    second = _create(desk, settings, **ADRUN_ZOE, confirm_new=True)  # confirmed new at the desk
    result = _retrieve(desk, settings, second["id"])
    assert result["outcome"] == "collision" and result["other_identity_id"] == first["id"]
    items = _worklist(desk, settings, "ins_collision")
    assert items[0]["identity_id"] == second["id"] and items[0]["other_identity_id"] == first["id"]


def _store_ins(ctx, identity_id: int, matricule: str, status: str) -> None:
    with Session(ctx.engine) as session:
        IdentityRepository(session).add_ins(identity_id, InsRecord(Ins(matricule, OID_NIR), True, "HL7"),
                                            ctx.now())
        row = session.get(IdentityRow, identity_id)
        row.status = status
        session.add(row)
        session.commit()


@pytest.mark.parametrize(
    ("traits", "matricule", "verdict", "status_after"),
    [
        (ADRUN_ZOE, "275126322074974", "confirmed", "QUAL"),
        (ADRUN_ZOE, "297022A02077878", "different-ins", "VALI"),
        ({"birth_name": "Houilles", "first_names": "Pierre", "sex": "M", "birth_date": "1993-01-27"},
         "297022A02077878", "not-found", "VALI"),
    ],
)
def test_verification_outcomes(desk, settings, ctx, traits, matricule, verdict, status_after) -> None:
    created = _create(desk, settings,
                      **{**traits, "birth_place_code": "63220"} if verdict == "confirmed" else traits)
    _store_ins(ctx, created["id"], matricule, "QUAL")
    response = desk.post(f"/identities/{created['id']}/insi/verify", headers=_headers(settings))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == verdict and body["identity"]["status"] == status_after
    if verdict == "confirmed":
        assert body["identity"]["insi_at"] is not None and body["worklist_item_id"] is None
        assert body["identity"]["ins"]["matricule"] == matricule
    else:
        assert body["identity"]["ins"] is None
        assert body["identity"]["ins_history"][0]["matricule"] == matricule
        assert [i["identity_id"] for i in _worklist(desk, settings, "verification_failed")] == [created["id"]]


def test_retrieval_with_the_carte_vitale(desk, settings, insi_pki) -> None:
    from tests.insi_support import desk_assertion

    created = _create(desk, settings, **ADRUN_ZOE)
    vitale = desk_assertion(insi_pki.manu).decode()
    body = {"by": "vitale", "insured": {"number": "2751263220749", "key": "74"}, "birth_name": "ADRUN",
            "birth_date": "1975-12-31", "vitale_assertion": vitale}
    response = desk.post(f"/identities/{created['id']}/insi/retrieve", json=body, headers=_headers(settings))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["outcome"] == "found" and result["ins"]["matricule"] == "275126322074974"
    assert result["attempts"] == []
    missing = desk.post(f"/identities/{created['id']}/insi/retrieve", json={"by": "vitale"},
                        headers=_headers(settings))
    assert missing.status_code == 422


def test_a_proposal_read_back_keeps_its_cr02_attempts_and_goes_stale(desk, settings, ctx) -> None:
    """What the desk's comparison page reads (qualification.open_proposal), and the reason a
    rejection needs whoever calls the service (the web page as the API)."""
    from app.domain.errors import MissingReason, RuleViolation
    from app.services import qualification
    from app.services.context import Actor

    created = _create(desk, settings, birth_name="Lefort", first_names="Anne", sex="F",
                      birth_date="1985-04-12", birth_place_code="69123")
    proposal = _retrieve(desk, settings, created["id"])
    assert proposal["attempts"] == [{"step": "first-name", "code": "02"},
                                    {"step": "birth-place", "code": "00"}]
    actor = Actor("desk-1", frozenset({"admission"}))
    again = qualification.open_proposal(ctx, actor, created["id"], proposal["proposal_id"])
    assert again.attempts == proposal["attempts"] and again.status_after is not None
    assert again.status_after.value == "RECUP" and again.answer is not None and "attempts" not in again.answer
    assert [c.result for c in again.comparison] == ["equal"] * 6
    with pytest.raises(MissingReason):
        qualification.reject(ctx, actor, created["id"], proposal["proposal_id"], "  ")
    desk.post(f"/identities/{created['id']}/documents", json={"type": "CN", "expires_on": "2099-01-01"},
              headers={**_headers(settings), "If-Match": '"1"'})
    with pytest.raises(RuleViolation) as stale:
        qualification.open_proposal(ctx, actor, created["id"], proposal["proposal_id"])
    assert stale.value.code == "proposal-stale"
