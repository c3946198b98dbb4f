"""Identitovigilance worklists: counts, oldest-first listing, audited resolution."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.domain.traits import Sex, Traits
from app.domain.worklist import Hint, WorklistKind, not_found_hint
from app.main import create_app
from app.services import identities, worklists
from tests.conftest import actor, auth


def _open(ctx, kind: WorklistKind, hint: Hint | None = None) -> int:
    identity = identities.create_identity(ctx, actor("admission"),
                                          identities.TraitsInput("DUPONT", "JEAN", "1980-01-01", "M"),
                                          confirm_new=True)  # one identity per item, alike on purpose
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
    assert again.status_code == 409 and "already resolved by ivg-1" in again.json()["detail"]
    assert client.post("/worklists/items/999999/resolve", json={"resolution": "corrected", "reason": "x"},
                       headers=cell).status_code == 404
    assert client.get("/worklists", headers=cell).json()["insi_not_found"] == 1
    history = client.get(f"/identities/{first}/history", headers=cell).json()
    assert history[0]["action"] == "worklist.resolved" and history[0]["reason"] == "nom de naissance corrigé"
    assert client.get("/worklists", headers=auth(settings, "admission")).status_code == 403
    assert client.get("/worklists/nonsense", headers=cell).status_code == 404


@pytest.mark.parametrize(("language", "detail"), [
    ("en", "Worklist item {id} was already resolved by ivg-1 on {at} UTC (no action)."),
    ("fr", "L'anomalie {id} a déjà été traitée par ivg-1 le {at} UTC (sans suite)."),
])
def test_resolving_a_resolved_item_is_409_saying_by_whom_and_when(settings, ctx, language, detail) -> None:
    _open(ctx, WorklistKind.INS_COLLISION)
    localized = settings.model_copy(update={"language": language})
    cell = auth(localized, "identitovigilance", sub="ivg-1")
    with TestClient(create_app(localized, ctx=ctx)) as client:
        (item,) = client.get("/worklists/ins_collision", headers=cell).json()["items"]
        url = f"/worklists/items/{item['id']}/resolve"
        done = client.post(url, json={"resolution": "no_action", "reason": "homonymes"}, headers=cell).json()
        admin = auth(localized, "admin")
        again = client.post(url, json={"resolution": "merged", "reason": "doublon"}, headers=admin)
        assert again.status_code == 409
        problem = again.json()
        at = f"{done['resolved_at'][:10]} {done['resolved_at'][11:16]}"
        assert problem["type"].endswith("worklist-item-resolved")
        assert problem["detail"] == detail.format(id=item["id"], at=at)
        after = client.get("/worklists/ins_collision", params={"include_resolved": True}, headers=cell).json()
        kept = [(i["resolution"], i["resolution_reason"]) for i in after["items"]]
        assert kept == [("no_action", "homonymes")]


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
                                          identities.TraitsInput("DUPONT", "JEAN", "1980-01-01", "M"),
                                          confirm_new=True)  # one identity per item, alike on purpose
    _, doc = identities.record_document(ctx, actor("admission"), identity.id,
                                        identities.DocumentInput("CN", ctx.today() + timedelta(days=30)),
                                        expected_version=identity.version)
    assert worklists.scan_expired_documents(ctx) == 0
    with ctx.engine.begin() as connection:
        connection.execute(update(IdentityDocumentRow).values(expires_on=ctx.today() - timedelta(days=1)))
    assert worklists.scan_expired_documents(ctx) == 1
    assert worklists.scan_expired_documents(ctx) == 0
    items = client.get("/worklists/document_expired",
                       headers=auth(settings, "identitovigilance")).json()["items"]
    assert [(i["identity_id"], i["details"]["document_id"]) for i in items] == [(identity.id, doc.id)]
