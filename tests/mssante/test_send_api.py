"""POST /documents/messages and its reads: 202 with a tracking id, the stored mail, refusals that
write nothing, the exemption, statuses, operator retry and /metrics (both engines)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.integrations.mssante.reader import read_xdm
from app.services import mss
from app.wiring.mss import build_mss_tools
from tests.api.test_documents_api import MATRICULE, create
from tests.conftest import auth
from tests.documents_support import sample_pdf

PDF = sample_pdf(2, title="Lettre de liaison")
TO = ["dr.martin@medecin.mssante.fr", "secretariat@ch-autre.mssante.fr"]


def send(
    client: TestClient,
    settings: Settings,
    pdf: bytes = PDF,
    roles: tuple[str, ...] = ("documents",),
    **fields: object,
) -> object:
    data: dict[str, object] = {
        "recipients": TO,
        "title": "Lettre de liaison de sortie",
        "kind": "discharge-letter",
        "body": "Bonjour,\nci-joint la lettre de liaison.",
        "author_family": "DOCTEUR",
        "author_given": "Jean",
        "author_rpps": "10001234567",
    }
    data.update(fields)
    return client.post(
        "/documents/messages",
        data=data,
        files={"file": ("lettre.pdf", pdf, "application/pdf")},
        headers=auth(settings, *roles),
    )


def stored_mail(client: TestClient) -> EmailMessage:
    """The one queued mail, as the SMTP worker would claim it."""
    claimed = mss.claim(client.app.state.ctx, "test", 10, 60)
    assert len(claimed) == 1
    return email.message_from_bytes(claimed[0].mail, policy=email.policy.default)  # type: ignore[return-value]


def messages(client: TestClient, settings: Settings, **params: object) -> list[dict]:
    answer = client.get("/documents/messages", params=params, headers=auth(settings, "documents"))
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_qual_identity_is_queued_with_its_recipients_and_the_mail_carries_the_ins(client, settings) -> None:
    identity_id = create(client, settings, "QUAL")
    answer = send(client, settings, identity_id=identity_id)

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"/documents/messages/{body['tracking_id']}"
    assert body["state"] == "pending" and body["ins_sent"] is True and body["identity_id"] == identity_id
    assert [(r["address"], r["status"]) for r in body["recipients"]] == [(a, "pending") for a in TO]
    shown = client.get(answer.headers["location"], headers=auth(settings, "documents")).json()
    assert shown["tracking_id"] == body["tracking_id"] and shown["message_id"] == body["message_id"]
    assert [
        m["tracking_id"] for m in messages(client, settings, state="pending", identity_id=identity_id)
    ] == [body["tracking_id"]]
    assert messages(client, settings, state="sent") == []
    assert [m["tracking_id"] for m in messages(client, settings, recipient_status="pending")] == [
        body["tracking_id"]
    ]

    mail = stored_mail(client)
    assert mail["Message-ID"] == body["message_id"] and mail["X-MSS-INS"] == "O"
    assert mail["X-MSS-CODECDA"] is None
    assert [a.strip() for a in mail["To"].split(",")] == TO
    names = [part.get_filename() for part in mail.iter_attachments()]
    assert names == ["DOC0001.PDF", "IHE_XDM.ZIP"]
    archive = next(p for p in mail.iter_attachments() if p.get_filename() == "IHE_XDM.ZIP").get_content()
    entry = read_xdm(archive).entries[0]
    assert entry.patient_id.startswith(MATRICULE + "^^^")
    assert entry.unique_id == body["document_unique_id"]
    assert mail.get_body(("plain",)).get_content().startswith("Bonjour,")


def test_by_ipp_with_cda_stamp_and_read_receipt(client, settings) -> None:
    identity_id = create(client, settings, "QUAL")
    ipp = client.get(f"/identities/{identity_id}", headers=auth(settings, "admission")).json()["ipp"]
    answer = send(
        client,
        settings,
        ipp=ipp,
        cda="true",
        stamp="true",
        read_receipt="true",
        title="Compte rendu opératoire",
    )

    assert answer.status_code == 202, answer.text
    mail = stored_mail(client)
    assert mail["X-MSS-CODECDA"] == "11490-0" and mail["Subject"] == "Compte rendu opératoire"
    assert mail["Disposition-Notification-To"] == settings.mssante.sender
    archive = next(p for p in mail.iter_attachments() if p.get_filename() == "IHE_XDM.ZIP").get_content()
    entry = read_xdm(archive).entries[0]
    assert entry.pdf is not None and entry.pdf.count(b"/Type /Page\n") + entry.pdf.count(b"/Type /Page ") != 0
    assert len(entry.pdf) > len(PDF)  # the cover page is in front


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        (
            {"recipients": ["dr.martin@medecin.mssante.fr", "quelqu.un@gmail.com"]},
            409,
            "mss-outside-trust-space",
        ),
        ({"recipients": ["pas une adresse"]}, 422, "mss-address-malformed"),
        ({"kind": "recette-de-cuisine"}, 422, None),
        ({"action": "replace"}, 422, "mss-previous-required"),
        ({"body": "texte\x00"}, 422, "mss-body-invalid"),
        ({"ipp": "000"}, 422, "identity-ref-required"),  # an id and an IPP at once
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(client, settings, fields, status, code) -> None:
    identity_id = create(client, settings, "QUAL")
    answer = send(client, settings, identity_id=identity_id, **fields)

    assert answer.status_code == status, answer.text
    if code:
        assert answer.json()["type"].endswith(code)
    assert messages(client, settings) == []


def test_a_hostile_or_oversized_file_is_refused(client, settings) -> None:
    identity_id = create(client, settings, "QUAL")
    assert send(client, settings, pdf=b"%PDF-1.7\n garbage", identity_id=identity_id).status_code == 422
    assert send(client, settings, pdf=b"<html>", identity_id=identity_id).status_code == 422
    big = b"%PDF-1.4\n" + b"0" * settings.documents.max_upload_bytes
    assert send(client, settings, pdf=big, identity_id=identity_id).status_code == 413
    assert messages(client, settings) == []


def test_a_non_qualified_identity_is_refused_unless_the_exemption_is_on(client, settings) -> None:
    identity_id = create(client, settings, "RECUP")
    refused = send(client, settings, identity_id=identity_id)
    assert refused.status_code == 409 and refused.json()["type"].endswith("mss-ins-not-qualified")
    assert "RNIV EXI SI 08" in refused.json()["detail"]
    assert messages(client, settings) == []

    exempt = settings.model_copy(
        update={"mssante": settings.mssante.model_copy(update={"unqualified_exemption": True})}
    )
    client.app.state.mss = build_mss_tools(exempt)
    answer = send(client, settings, identity_id=identity_id)
    assert answer.status_code == 202, answer.text
    assert answer.json()["ins_sent"] is False
    mail = stored_mail(client)
    assert mail["X-MSS-INS"] == "N"
    headers = "\n".join(f"{k}: {v}" for k, v in mail.items())
    assert MATRICULE not in headers
    # the cover page prints the INS: never for a non-qualified identity
    stamped = send(client, settings, identity_id=identity_id, stamp="true")
    assert stamped.status_code == 409


def test_role_unknown_ids_and_retry_of_a_live_message(client, settings) -> None:
    identity_id = create(client, settings, "QUAL")
    assert send(client, settings, roles=("admission",), identity_id=identity_id).status_code == 403
    assert send(client, settings, identity_id=999999).status_code == 404
    headers = auth(settings, "documents")
    assert (
        client.get("/documents/messages/00000000-0000-0000-0000-000000000000", headers=headers).status_code
        == 404
    )
    tracking = send(client, settings, identity_id=identity_id).json()["tracking_id"]
    again = client.post(f"/documents/messages/{tracking}/retry", headers=headers)
    assert again.status_code == 409 and again.json()["type"].endswith("mss-not-dead")
    text = client.get("/metrics").text
    assert 'identito_mss_messages{state="pending"} 1' in text
    assert 'identito_mss_recipients{status="pending"} 2' in text
