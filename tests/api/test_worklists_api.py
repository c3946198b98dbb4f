"""Identitovigilance worklists: counts, oldest-first listing, audited resolution."""

from __future__ import annotations

from datetime import date

from app.domain.traits import Sex, Traits
from app.domain.worklist import Hint, WorklistKind, not_found_hint
from app.services import identities, worklists
from tests.conftest import actor, auth


def _open(ctx, kind: WorklistKind, hint: Hint | None = None) -> int:
    identity = identities.create_identity(ctx, actor("admission"),
                                          identities.TraitsInput("DUPONT", "JEAN", "1980-01-01", "M"))
    with ctx.unit_of_work(actor("admission", sub="desk-1")) as uow:
        worklists.open_item(uow, kind, identity.id, "01", hint=hint, details={"code": "01"})
        uow.commit()
    return identity.id


def test_counts_list_and_resolve(client, settings, ctx) -> None:
    first = _open(ctx, WorklistKind.INSI_NOT_FOUND, Hint.USED_NAME_AS_BIRTH_NAME)
    second = _open(ctx, WorklistKind.INSI_NOT_FOUND)
    _open(ctx, WorklistKind.INS_COLLISION)
    cell = auth(settings, "identitovigilance", sub="ivg-1")
    counts = client.get("/worklists", headers=cell).json()
    assert counts["insi_not_found"] == 2 and counts["ins_collision"] == 1 and counts["document_expired"] == 0
    page = client.get("/worklists/insi_not_found", headers=cell).json()
    assert [i["identity_id"] for i in page["items"]] == [first, second]
    item = page["items"][0]
    assert item["created_by"] == "desk-1" and "used name" in item["suggested_action"]
    assert client.post(f"/worklists/items/{item['id']}/resolve", json={"resolution": "corrected"},
                       headers=cell).status_code == 422
    assert client.post(f"/worklists/items/{item['id']}/resolve", json={"resolution": "bogus", "reason": "x"},
                       headers=cell).status_code == 422
    done = client.post(f"/worklists/items/{item['id']}/resolve",
                       json={"resolution": "corrected", "reason": "nom de naissance corrigé"}, headers=cell)
    assert done.status_code == 200 and done.json()["resolved_by"] == "ivg-1"
    again = client.post(f"/worklists/items/{item['id']}/resolve",
                        json={"resolution": "corrected", "reason": "x"}, headers=cell)
    assert again.status_code == 404
    assert client.get("/worklists", headers=cell).json()["insi_not_found"] == 1
    history = client.get(f"/identities/{first}/history", headers=cell).json()
    assert history[0]["action"] == "worklist.resolved" and history[0]["reason"] == "nom de naissance corrigé"
    assert client.get("/worklists", headers=auth(settings, "admission")).status_code == 403
    assert client.get("/worklists/nonsense", headers=cell).status_code == 404


def _traits(sex: Sex, born: date, used: str | None) -> Traits:
    return Traits("DUPONT", "MARIE", "MARIE", sex, born, used_name=used)


def test_not_found_hints() -> None:
    today = date(2026, 11, 24)
    assert not_found_hint(_traits(Sex.F, date(1990, 1, 1), "MARTIN"), today) is Hint.USED_NAME_AS_BIRTH_NAME
    assert not_found_hint(_traits(Sex.F, date(1960, 1, 1), None), today) is Hint.MARRIED_NAME
    assert not_found_hint(_traits(Sex.F, date(1990, 1, 1), None), today) is Hint.CHECK_TRAITS
    assert not_found_hint(_traits(Sex.M, date(1950, 1, 1), None), today) is Hint.CHECK_TRAITS


def test_expired_documents_are_listed_once(client, settings, ctx) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from app.db.tables import IdentityDocumentRow

    identity = identities.create_identity(ctx, actor("admission"),
                                          identities.TraitsInput("DUPONT", "JEAN", "1980-01-01", "M"))
    _, doc = identities.record_document(ctx, actor("admission"), identity.id,
                                        identities.DocumentInput("CN", ctx.today() + timedelta(days=30)),
                                        expected_version=identity.version)
    assert worklists.scan_expired_documents(ctx) == 0
    with ctx.engine.begin() as connection:
        connection.execute(update(IdentityDocumentRow).values(expires_on=ctx.today() - timedelta(days=1)))
    assert worklists.scan_expired_documents(ctx) == 1
    assert worklists.scan_expired_documents(ctx) == 0
    items = client.get("/worklists/document_expired", headers=auth(settings, "identitovigilance")).json()["items"]
    assert [(i["identity_id"], i["details"]["document_id"]) for i in items] == [(identity.id, doc.id)]
