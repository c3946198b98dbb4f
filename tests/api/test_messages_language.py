"""Every message of the API in the configured language: request validation, embedded words, 409 titles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from app.config import Settings
from app.db.hl7_tables import OutboxMessageRow
from tests.conftest import auth

DUPONT = {"birth_name": "Dupont", "first_names": "Jean", "birth_date": "1980-05-17", "sex": "M"}
PYDANTIC_ENGLISH = ("Field required", "Extra inputs are not permitted", "JSON decode error", "Input should")


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest, client: TestClient, settings: Settings) -> str:
    """The application configured in French (the default) or in English."""
    client.app.state.settings = settings.model_copy(update={"language": request.param})
    return str(request.param)


def _pick(language: str, french: str, english: str) -> str:
    return french if language == "fr" else english


def _create(client: TestClient, settings: Settings, **traits: str) -> dict:
    response = client.post("/identities", json={**DUPONT, **traits}, headers=auth(settings, "admission"))
    assert response.status_code == 201, response.text
    return response.json()


def test_request_validation_errors_are_in_the_language(client, settings, language) -> None:
    desk = auth(settings, "admission")
    missing = client.post("/identities", json={"first_names": "Jean", "birth_date": "1980", "sex": "M",
                                               "nickname": "Jeannot"}, headers=desk)
    broken = client.post("/identities", content=b'{"birth_name": "Dupont",',
                         headers={**desk, "Content-Type": "application/json"})
    too_small = client.get("/identities", params={"limit": 0}, headers=desk)

    for response in (missing, broken, too_small):
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
        assert not any(english in response.text for english in PYDANTIC_ENGLISH), response.text
    assert missing.json()["detail"] == _pick(language, "Nom de naissance : champ obligatoire.",
                                             "Birth name: required.")
    assert missing.json()["field"] == "birth_name"
    assert [e["message"] for e in missing.json()["errors"]][1] == _pick(
        language, "Nickname : champ inconnu, non accepté.", "Nickname: unknown field, not accepted.")
    assert broken.json()["detail"] == _pick(language, "Le corps de la requête n'est pas un JSON valide.",
                                            "The request body is not valid JSON.")
    assert too_small.json()["detail"] == _pick(
        language, "Nombre de résultats : doit être supérieur ou égal à 1.", "Limit: must be 1 or more.")
    assert too_small.json()["title"] == _pick(language, "Données invalides", "Invalid data")


def test_words_and_reasons_inside_messages_are_in_the_language(client, settings, language) -> None:
    created = _create(client, settings)
    cell = {**auth(settings, "identitovigilance"), "If-Match": '"1"'}

    not_found = client.get("/identities/987654", headers=auth(settings, "admission"))
    no_route = client.get("/nowhere", headers=auth(settings, "admission"))
    no_reason = client.delete(f"/identities/{created['id']}/attributes/DOUT", headers=cell)
    no_token = client.get("/identities")
    not_an_image = client.post("/documents/scan", files={"file": ("scan.png", b"hello", "image/png")},
                               headers=auth(settings, "documents"))
    foreign_symbol = client.app.state.documents.renderer.datamatrix_png("HELLO WORLD")
    scanned = client.post("/documents/scan", files={"file": ("scan.png", foreign_symbol, "image/png")},
                          headers=auth(settings, "documents"))

    assert not_found.json()["detail"] == _pick(language, "Identité 987654 introuvable.",
                                               "Identity 987654 not found.")
    assert no_route.status_code == 404 and no_route.json()["detail"] == _pick(
        language, "Aucune ressource à cette adresse.", "Not Found")
    assert no_reason.status_code == 422 and no_reason.json()["detail"] == _pick(
        language, "Un motif est obligatoire pour cette modification (modification d'un attribut).",
        "A reason is required for this change (attribute).")
    assert no_token.status_code == 401 and no_token.json()["detail"] == _pick(
        language, "Authentification requise : envoyez un jeton porteur valide (aucun en-tête Authorization).",
        "Authentication required: send a valid bearer token (no Authorization header).")
    assert not_an_image.status_code == 422 and not_an_image.json()["detail"] == _pick(
        language, "Le fichier ne peut pas être utilisé : image endommagée ou non prise en charge.",
        "The file cannot be used: broken or unsupported image.")
    assert scanned.json()["symbols"][0]["error"] == _pick(
        language, "Le contenu du DataMatrix INS est invalide : en-tête IS01 absent.",
        "The DataMatrix INS content is invalid: header IS01 missing.")


def test_conflict_titles_say_what_the_conflict_is(client, settings, ctx, language) -> None:
    admin = auth(settings, "admin")
    subscriber = {"name": "DPI", "host": "127.0.0.1", "port": 2575, "receiving_application": "DPI",
                  "receiving_facility": "CHU-X"}
    assert client.post("/subscribers", json=subscriber, headers=admin).status_code == 201
    created = _create(client, settings, ipp="IPP-1")  # an A28 waits for the subscriber
    with Session(ctx.engine) as session:
        message_id = session.execute(select(OutboxMessageRow.id)).scalars().first()
    cell = auth(settings, "identitovigilance")
    client.post(f"/identities/{created['id']}/attributes", json={"code": "DOUT", "reason": "doute"},
                headers={**cell, "If-Match": '"1"'})

    not_dead = client.post(f"/operations/dead-letters/{message_id}/retry", headers=admin)
    ipp_taken = client.post("/identities", json={**DUPONT, "ipp": "IPP-1"},
                            headers=auth(settings, "admission"))
    dout_and_fict = client.post(f"/identities/{created['id']}/attributes",
                                json={"code": "FICT", "reason": "x"}, headers={**cell, "If-Match": '"2"'})

    assert not_dead.status_code == 409
    assert not_dead.json()["title"] == _pick(language, "Message hors lettre morte",
                                             "Message not in dead letter")
    assert not_dead.json()["detail"] == _pick(
        language, f"Le message {message_id} n'est pas en lettre morte (état en attente).",
        f"Message {message_id} is not a dead letter (state pending).")
    assert ipp_taken.status_code == 409
    assert ipp_taken.json()["title"] == _pick(language, "Identifiant local déjà utilisé",
                                              "Local identifier already used")
    assert dout_and_fict.status_code == 409
    assert dout_and_fict.json()["title"] == _pick(language, "Conflit avec les règles d'identitovigilance",
                                                  "Conflict with the identitovigilance rules")


@pytest.mark.parametrize("code", ["XX", "PASSEPORT"])
def test_an_unknown_document_type_lists_the_valid_codes(client, settings, language, code) -> None:
    created = _create(client, settings)

    response = client.post(f"/identities/{created['id']}/documents", json={"type": code},
                           headers=auth(settings, "admission"))

    assert response.status_code == 422 and response.json()["field"] == "type"
    codes = "CN, PA, CS, AN, LE, AC, DC, IE, TC, PC, CM, CC, CE"
    assert response.json()["detail"] == _pick(
        language, f"Type de justificatif inconnu {code} : utilisez l'un des codes {codes}.",
        f"Unknown identity document type {code}: use one of {codes}.")
