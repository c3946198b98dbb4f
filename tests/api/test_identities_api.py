"""REST API of the identity repository, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from app.config import Settings
from app.db.identities import IdentityRepository
from app.db.tables import AuditEventRow, IdentityRow
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.services.context import ServiceContext
from tests.conftest import auth

DUPONT = {"birth_name": "Dupont", "first_names": "Jean Pierre", "birth_date": "1980-05-17", "sex": "M",
          "birth_place_code": "63113"}


def _create(client: TestClient, settings: Settings, body: dict | None = None, *roles: str) -> dict:
    response = client.post("/identities", json=body or DUPONT,
                           headers=auth(settings, *(roles or ("admission",))))
    assert response.status_code == 201, response.text
    return response.json()


def _give_ins(ctx: ServiceContext, identity_id: int, status: str, matricule: str = "275126322074974") -> None:
    """Put an identity in RECUP/QUAL with an INS, as the qualification workflow would."""
    with Session(ctx.engine) as session:
        repo = IdentityRepository(session)
        repo.add_ins(identity_id, InsRecord(Ins(matricule, OID_NIR), True, "INSI"), ctx.now())
        row = session.get(IdentityRow, identity_id)
        row.status = status
        session.add(row)
        session.commit()


def test_create_returns_normalised_provisional_identity(client, settings) -> None:
    response = client.post("/identities", json={**DUPONT, "birth_name": " dupont ", "used_name": "Émile"},
                           headers=auth(settings, "admission"))
    assert response.status_code == 201
    body = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/identities/{body['id']}"
    assert body["birth_name"] == "DUPONT" and body["first_name"] == "JEAN"
    assert body["used_name"] == "EMILE"
    assert body["status"] == "PROV" and body["attributes"] == [] and body["ins"] is None
    assert body["ipp"] and body["version"] == 1 and body["birth_date_completed"] is False


def test_partial_birth_date_is_flagged(client, settings) -> None:
    body = _create(client, settings, {**DUPONT, "birth_date": "1980"})
    assert body["birth_date"] == "1980-12-31" and body["birth_date_completed"] is True


def test_bad_traits_give_422_problem_and_write_nothing(client, settings, ctx) -> None:
    for bad in ({**DUPONT, "birth_name": "Dup0nt"}, {**DUPONT, "first_name": "Paul"},
                {**DUPONT, "birth_date": "2999-01-01"}, {**DUPONT, "sex": "X"},
                {**DUPONT, "birth_place_code": "ABCDE"}, {**DUPONT, "unexpected": 1},
                {"birth_name": "X"}):
        response = client.post("/identities", json=bad, headers=auth(settings, "admission"))
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].startswith("urn:identito:problem:") and problem["detail"]
        assert problem.get("field")
    with Session(ctx.engine) as session:
        assert session.execute(select(func.count()).select_from(IdentityRow)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(AuditEventRow)).scalar_one() == 0


def test_french_titles_when_configured(client, settings) -> None:
    client.app.state.settings = settings.model_copy(update={"language": "fr"})
    response = client.post("/identities", json={**DUPONT, "birth_name": "Œuf"},
                           headers=auth(settings, "admission"))
    assert response.json()["title"] == "Données invalides"
    assert "ligature" in response.json()["detail"] and "nom de naissance" in response.json()["detail"].lower()


def test_ipp_given_and_unique(client, settings) -> None:
    first = _create(client, settings, {**DUPONT, "ipp": "IPP-42"})
    assert first["ipp"] == "IPP-42"
    response = client.post("/identities", json={**DUPONT, "ipp": "IPP-42"},
                           headers=auth(settings, "admission"))
    assert response.status_code == 409
    assert "IPP-42" in response.json()["detail"]


def test_get_and_404(client, settings) -> None:
    created = _create(client, settings)
    response = client.get(f"/identities/{created['id']}", headers=auth(settings, "admission"))
    assert response.status_code == 200 and response.json() == created
    missing = client.get("/identities/999999", headers=auth(settings, "admission"))
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_search(client, settings, ctx) -> None:
    a = _create(client, settings)
    b = _create(client, settings, {"birth_name": "Dupond", "first_names": "Hélène",
                                   "birth_date": "1975-01-02", "sex": "F", "used_name": "Martin"})
    c = _create(client, settings, {"birth_name": "Martinez", "first_names": "Paul Jean",
                                   "birth_date": "1990-03-04", "sex": "M"})
    _give_ins(ctx, c["id"], "RECUP")
    h = auth(settings, "admission")

    def ids(query: str) -> list[int]:
        response = client.get(f"/identities?{query}", headers=h)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids("birth_name=dup") == [b["id"], a["id"]]
    assert ids("birth_name=DUPONT&exact=true") == [a["id"]]
    assert ids("birth_name=dupont&exact=true&birth_date=1980-05-17") == [a["id"]]
    assert ids("birth_name=dupont&exact=true&birth_date=1980-05-18") == []
    assert sorted(ids("birth_name=mart")) == sorted([b["id"], c["id"]])  # used name matches too
    assert ids("first_name=helene") == [b["id"]]
    assert ids("first_name=jean") == [a["id"], c["id"]]
    assert ids("sex=F") == [b["id"]]
    assert ids("birth_place_code=63113") == [a["id"]]
    assert ids(f"ipp={a['ipp']}") == [a["id"]]
    assert ids("ins=275126322074974") == [c["id"]]
    assert ids("status=RECUP") == [c["id"]]
    page = client.get("/identities?birth_name=d&limit=1", headers=h).json()
    assert page["has_more"] is True and len(page["items"]) == 1
    bad = client.get("/identities?ins=123", headers=h)
    assert bad.status_code == 422


def test_search_by_historic_ins(client, settings, ctx) -> None:
    created = _create(client, settings)
    with Session(ctx.engine) as session:
        IdentityRepository(session).add_ins(
            created["id"], InsRecord(Ins("297022A02077878", OID_NIR), False, "INSI"), ctx.now())
        session.commit()
    found = client.get("/identities?ins=297022A02077878", headers=auth(settings, "admission")).json()
    assert [i["id"] for i in found["items"]] == [created["id"]]
    assert found["items"][0]["ins"] is None
    assert found["items"][0]["ins_history"][0]["matricule"] == "297022A02077878"


def test_patch_needs_if_match_and_detects_stale_versions(client, settings) -> None:
    created = _create(client, settings)
    h = auth(settings, "admission")
    url = f"/identities/{created['id']}"
    assert client.patch(url, json={"used_name": "Durand"}, headers=h).status_code == 428
    ok = client.patch(url, json={"used_name": "Durand"}, headers={**h, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["used_name"] == "DURAND" and ok.headers["ETag"] == '"2"'
    stale = client.patch(url, json={"used_name": "Petit"}, headers={**h, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == 2


def test_patch_first_names_rederives_first_name(client, settings) -> None:
    created = _create(client, settings)
    response = client.patch(f"/identities/{created['id']}", json={"first_names": "Paul Jean"},
                            headers={**auth(settings, "admission"), "If-Match": '"1"'})
    assert response.json()["first_name"] == "PAUL"


def test_strict_edit_of_qual_identity_demotes_keeps_ins_in_history(client, settings, ctx) -> None:
    created = _create(client, settings)
    _give_ins(ctx, created["id"], "QUAL")
    url = f"/identities/{created['id']}"
    desk = client.patch(url, json={"birth_name": "Dupont-Durand"},
                        headers={**auth(settings, "admission"), "If-Match": '"1"'})
    assert desk.status_code == 403
    no_reason = client.patch(url, json={"birth_name": "Dupont-Durand"},
                             headers={**auth(settings, "identitovigilance"), "If-Match": '"1"'})
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    passport = {"type": "PA", "expires_on": "2099-01-01"}  # checked with the change: C stays (ins-rniv §3)
    response = client.patch(url, json={"birth_name": "Dupont-Durand", "reason": "acte de naissance",
                                       "document": passport},
                            headers={**auth(settings, "identitovigilance"), "If-Match": '"1"'})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "VALI" and body["ins"] is None
    assert body["ins_history"][0]["matricule"] == "275126322074974"
    history = client.get(f"{url}/history", headers=auth(settings, "identitovigilance")).json()
    assert history[0]["action"] == "identity.updated" and history[0]["reason"] == "acte de naissance"
    assert history[0]["before"]["birth_name"] == "DUPONT" and history[0]["after"]["status"] == "VALI"


def test_complementary_edit_keeps_status(client, settings, ctx) -> None:
    created = _create(client, settings)
    _give_ins(ctx, created["id"], "QUAL")
    response = client.patch(f"/identities/{created['id']}", json={"used_name": "Martin"},
                            headers={**auth(settings, "admission"), "If-Match": '"1"'})
    assert response.status_code == 200 and response.json()["status"] == "QUAL"


def test_documents_move_status_and_can_be_withdrawn(client, settings) -> None:
    created = _create(client, settings)
    h = {**auth(settings, "admission"), "If-Match": '"1"'}
    url = f"/identities/{created['id']}/documents"
    assert client.post(url, json={}, headers=h).status_code == 422
    assert client.post(url, json={"type": ""}, headers=h).status_code == 422
    weak = client.post(url, json={"type": "PC", "expires_on": "2099-01-01"}, headers=h)
    assert weak.status_code == 201 and weak.json()["identity"]["status"] == "PROV"
    expired = client.post(url, json={"type": "CN", "expires_on": "2001-01-01"}, headers=h)
    assert expired.status_code == 409
    strong = client.post(url, json={"type": "pa", "expires_on": "2099-01-01"}, headers=h)
    assert strong.status_code == 201
    assert strong.json()["identity"]["status"] == "VALI" and strong.json()["document"]["type"] == "PA"
    doc_id = strong.json()["document"]["id"]
    withdraw = client.post(f"{url}/{doc_id}/withdraw", json={"reason": "faux document"}, headers=h)
    assert withdraw.status_code == 200 and withdraw.json()["status"] == "PROV"
    listed = client.get(url, headers=h).json()
    assert listed[0]["withdrawn_reason"] == "faux document"


def test_attributes(client, settings, ctx) -> None:
    created = _create(client, settings)
    _give_ins(ctx, created["id"], "QUAL")
    url = f"/identities/{created['id']}/attributes"
    cell = auth(settings, "identitovigilance")
    assert client.post(url, json={"code": "DOUT", "reason": "x"},
                       headers=auth(settings, "admission")).status_code == 403
    assert client.post(url, json={"code": "DOUT"}, headers=cell).status_code == 422
    assert client.post(url, json={"code": "XXXX", "reason": "x"}, headers=cell).status_code == 422
    dout = client.post(url, json={"code": "DOUT", "reason": "traits incohérents"}, headers=cell)
    assert dout.status_code == 200
    assert (
        dout.json()["status"] == "PROV"
        and dout.json()["attributes"] == ["DOUT"]
        and dout.json()["ins"] is None
    )
    fict = client.post(url, json={"code": "FICT", "reason": "x"}, headers=cell)
    assert fict.status_code == 409
    version = client.get(f"/identities/{created['id']}", headers=cell).headers["ETag"]
    doc = client.post(f"/identities/{created['id']}/documents",
                      json={"type": "CN", "expires_on": "2099-01-01"},
                      headers={**cell, "If-Match": version})
    assert doc.status_code == 409
    homa = client.post(url, json={"code": "HOMA", "reason": "homonyme"}, headers=cell)
    assert homa.json()["attributes"] == ["DOUT", "HOMA"]
    removed = client.request("DELETE", f"{url}/DOUT", json={"reason": "levée du doute"}, headers=cell)
    assert removed.status_code == 200 and removed.json()["attributes"] == ["HOMA"]
    assert removed.json()["status"] == "PROV"
    assert client.delete(f"{url}/DOUT?reason=x", headers=cell).status_code == 409


def test_documents_role_sees_ins_only_when_qualified(client, settings, ctx) -> None:
    recup = _create(client, settings)
    _give_ins(ctx, recup["id"], "RECUP")
    qual = _create(client, settings, {**DUPONT, "first_names": "Paul"})
    _give_ins(ctx, qual["id"], "QUAL", matricule="297022A02077878")
    docs = auth(settings, "documents")
    assert client.get(f"/identities/{recup['id']}", headers=docs).json()["ins"] is None
    seen = client.get(f"/identities/{qual['id']}", headers=docs).json()["ins"]
    assert seen == {"matricule": "297022A02077878", "oid": OID_NIR, "nature": "NIR", "transmissible": True}
    desk = client.get(f"/identities/{recup['id']}", headers=auth(settings, "admission")).json()["ins"]
    assert desk["transmissible"] is False
    assert client.post("/identities", json=DUPONT, headers=docs).status_code == 403


def test_history_is_newest_first_with_subject(client, settings) -> None:
    created = _create(client, settings)
    client.post(f"/identities/{created['id']}/documents", json={"type": "CN", "expires_on": "2099-01-01"},
                headers={**auth(settings, "admission", sub="desk-42"), "If-Match": '"1"'})
    history = client.get(f"/identities/{created['id']}/history", headers=auth(settings, "admission")).json()
    assert [h["action"] for h in history] == ["document.recorded", "identity.created"]
    assert history[0]["actor"] == "desk-42" and history[1]["actor"] == "agent-1"


def test_health_and_metrics(client, settings) -> None:
    _create(client, settings)
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    text = client.get("/metrics").text
    assert 'identito_http_requests_total{method="POST",route="/identities",status="201"} 1' in text
    assert 'identito_identities{status="PROV"} 1' in text
