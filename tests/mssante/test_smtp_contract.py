"""The SMTP worker against a real submission server on loopback (aiosmtpd, STARTTLS required, client
certificate checked, DSN offered): delivered, refused for good, temporary failure then success,
TLS refused, bad client certificate, dead letter and operator retry, a non-QUAL identity under the
exemption; the received archive parses back to the identity that was sent."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.integrations.mssante.reader import read_xdm
from app.integrations.mssante.smtp import SmtpSubmitter
from app.wiring.mss import build_mss_tools, smtp_config
from app.workers.mss_sender import MssSender
from tests.api.test_documents_api import MATRICULE, create
from tests.conftest import auth
from tests.mssante.smtp_server import Pki, Received, Script, SmtpServer, make_pki
from tests.mssante.test_send_api import TO, send

ORGANISATION = "CH de Demonstration (organisation)"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def sending(
    client: TestClient,
    settings: Settings,
    server: SmtpServer,
    pki: Pki,
    *,
    rogue: bool = False,
    **changes: object,
) -> MssSender:
    """A worker on the test database, submitting to the loopback server."""
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_ca_path": pki.ca,
        "smtp_cert_path": pki.rogue_cert if rogue else pki.client_cert,
        "smtp_key_path": pki.rogue_key if rogue else pki.client_key,
        "smtp_timeout_seconds": 10.0,
        "retry_base_seconds": 0.0,
    }
    values.update(changes)
    configured = settings.model_copy(update={"mssante": settings.mssante.model_copy(update=values)})
    client.app.state.mss = build_mss_tools(configured)
    config = smtp_config(configured)
    return MssSender(
        client.app.state.ctx, client.app.state.mss, lambda: SmtpSubmitter(config), lease_seconds=60
    )


def status(client: TestClient, settings: Settings, tracking: str) -> dict:
    answer = client.get(f"/documents/messages/{tracking}", headers=auth(settings, "documents"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def attachment(received: Received, name: str) -> Any:
    return next(p for p in received.message.iter_attachments() if p.get_filename() == name).get_content()


def test_delivered_with_dsn_and_the_archive_parses_back_to_the_identity(
    client, settings, pki, tmp_path
) -> None:
    identity_id = create(client, settings, "QUAL")
    identity = client.get(f"/identities/{identity_id}", headers=auth(settings, "admission")).json()
    queued = send(client, settings, identity_id=identity_id).json()
    with SmtpServer(tmp_path / "smtp", pki) as server:
        worker = sending(client, settings, server, pki)
        assert worker.run_once() == 1
        worker.submitter.close()
        received = server.wait_for(1)

    shown = status(client, settings, queued["tracking_id"])
    assert shown["state"] == "sent" and shown["attempts"] == 1 and shown["sent_at"]
    assert [(r["address"], r["status"]) for r in shown["recipients"]] == [(a, "sent") for a in TO]
    assert len(received) == 1
    mail = received[0]
    assert mail.client_certificate == ORGANISATION
    assert mail.mail_from == settings.mssante.sender and mail.rcpt_tos == TO
    assert "RET=HDRS" in mail.mail_options and f"ENVID={queued['tracking_id'].upper()}" in mail.mail_options
    assert mail.rcpt_options == ["NOTIFY=SUCCESS,FAILURE"] * 2
    message = mail.message
    assert message["Message-ID"] == queued["message_id"] and message["X-MSS-INS"] == "O"
    document = attachment(mail, "DOC0001.PDF")
    entry = read_xdm(attachment(mail, "IHE_XDM.ZIP")).entries[0]
    assert entry.patient_id.split("^")[0] == MATRICULE
    assert entry.source_patient_id.split("^")[0] == identity["ipp"]
    traits = entry.traits
    assert (
        traits.birth_name,
        traits.first_names,
        traits.birth_date,
        traits.sex,
        traits.birth_place_code,
    ) == (
        identity["birth_name"],
        identity["first_names"],
        identity["birth_date"].replace("-", ""),
        identity["sex"],
        identity["birth_place_code"],
    )
    assert entry.hash == hashlib.sha1(document).hexdigest() and entry.size == len(document)  # noqa: S324
    assert entry.document == document
    assert 'identito_mss_messages{state="sent"} 1' in client.get("/metrics").text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_refused_for_good_fails_the_message_and_a_refused_recipient_alone(
    client, settings, pki, tmp_path
) -> None:
    identity_id = create(client, settings, "QUAL")
    rejected = send(client, settings, identity_id=identity_id).json()["tracking_id"]
    partly = send(client, settings, identity_id=identity_id).json()["tracking_id"]
    script = Script(data=["554 5.7.1 Message refused by policy"], rcpt={})
    with SmtpServer(tmp_path / "smtp", pki, script=script) as server:
        worker = sending(client, settings, server, pki)
        assert worker.run_once() == 2  # the first refused at DATA, the second taken
        first = status(client, settings, rejected)
        assert first["state"] == "failed" and "554" in first["last_error"]
        assert {r["status"] for r in first["recipients"]} == {"failed"}
        assert all("554" in r["reason"] for r in first["recipients"])
        # the second message: its first recipient is unknown to the server, the second is taken
        script.rcpt[TO[0]] = "550 5.1.1 Recipient unknown"
        third = send(client, settings, identity_id=identity_id).json()["tracking_id"]
        worker.run_once()
        worker.submitter.close()
        stored = server.wait_for(2)
    assert status(client, settings, partly)["state"] == "sent"
    shown = status(client, settings, third)
    assert shown["state"] == "sent"
    assert [(r["status"], (r["reason"] or "")[:3]) for r in shown["recipients"]] == [
        ("failed", "550"),
        ("sent", ""),
    ]
    assert stored[-1].rcpt_tos == [TO[1]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_temporary_failure_then_success_keeps_the_message_id(client, settings, pki, tmp_path) -> None:
    identity_id = create(client, settings, "QUAL")
    queued = send(client, settings, identity_id=identity_id).json()
    script = Script(data=["451 4.3.0 Try again later"])
    with SmtpServer(tmp_path / "smtp", pki, script=script) as server:
        worker = sending(client, settings, server, pki)
        worker.run_once()
        waiting = status(client, settings, queued["tracking_id"])
        assert waiting["state"] == "pending" and waiting["attempts"] == 1 and "451" in waiting["last_error"]
        assert {r["status"] for r in waiting["recipients"]} == {"pending"}
        assert worker.run_once() == 1
        worker.submitter.close()
        received = server.wait_for(1)
    assert status(client, settings, queued["tracking_id"])["state"] == "sent"
    assert server.handler.data_started == [queued["message_id"]] * 2
    assert received[0].message["Message-ID"] == queued["message_id"]
    assert worker.counters["retried"] == 1 and worker.counters["sent"] == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_server_without_starttls_gets_nothing(client, settings, pki, tmp_path) -> None:
    identity_id = create(client, settings, "QUAL")
    tracking = send(client, settings, identity_id=identity_id).json()["tracking_id"]
    with SmtpServer(tmp_path / "smtp", pki, tls=False) as server:
        worker = sending(client, settings, server, pki)
        worker.run_once()
        worker.submitter.close()
    shown = status(client, settings, tracking)
    assert shown["state"] == "pending" and "STARTTLS" in shown["last_error"]
    assert server.handler.data_started == [] and server.received == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bad_client_certificate_ends_as_a_dead_letter_an_operator_retries(
    client, settings, pki, tmp_path
) -> None:
    identity_id = create(client, settings, "QUAL")
    tracking = send(client, settings, identity_id=identity_id).json()["tracking_id"]
    with SmtpServer(tmp_path / "smtp", pki) as server:
        worker = sending(client, settings, server, pki, rogue=True, max_attempts=2)
        worker.run_once()
        assert status(client, settings, tracking)["state"] == "pending"
        worker.run_once()
        dead = status(client, settings, tracking)
        assert dead["state"] == "dead" and dead["attempts"] == 2 and "TLS" in dead["last_error"]
        assert server.handler.data_started == []
        assert 'identito_mss_messages{state="dead"} 1' in client.get("/metrics").text
        again = client.post(f"/documents/messages/{tracking}/retry", headers=auth(settings, "documents"))
        assert (
            again.status_code == 200 and again.json()["state"] == "pending" and again.json()["attempts"] == 0
        )
        good = sending(client, settings, server, pki)
        assert good.run_once() == 1
        good.submitter.close()
        assert len(server.wait_for(1)) == 1
    assert status(client, settings, tracking)["state"] == "sent"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_non_qual_identity_under_the_exemption_has_no_ins_in_any_header(
    client, settings, pki, tmp_path
) -> None:
    identity_id = create(client, settings, "RECUP")
    with SmtpServer(tmp_path / "smtp", pki) as server:
        worker = sending(client, settings, server, pki, unqualified_exemption=True)
        queued = send(client, settings, identity_id=identity_id, cda="true")
        assert queued.status_code == 202, queued.text
        worker.run_once()
        worker.submitter.close()
        received = server.wait_for(1)
    message = received[0].message
    assert message["X-MSS-INS"] == "N"
    assert all(MATRICULE not in str(value) for value in message.values())
    archive = attachment(received[0], "IHE_XDM.ZIP")
    with zipfile.ZipFile(io.BytesIO(archive)) as unpacked:  # decoded: metadata, CDA header, index
        assert all(MATRICULE.encode() not in unpacked.read(name) for name in unpacked.namelist())
    assert MATRICULE not in attachment(received[0], "DOC0001.XML")  # the CDA, decoded
    assert MATRICULE not in message.get_body(("plain",)).get_content()
    entry = read_xdm(archive).entries[0]
    ipp = client.get(f"/identities/{identity_id}", headers=auth(settings, "admission")).json()["ipp"]
    assert entry.patient_id.split("^")[0] == ipp and entry.patient_id.endswith("^PI")
    assert [extension for _, extension in entry.cda_ids] == [ipp]


def test_two_workers_send_each_message_once(client, settings, pki, tmp_path) -> None:
    identity_id = create(client, settings, "QUAL")
    queued = [send(client, settings, identity_id=identity_id).json()["message_id"] for _ in range(6)]
    with SmtpServer(tmp_path / "smtp", pki) as server:
        workers = [sending(client, settings, server, pki) for _ in range(2)]
        for index, worker in enumerate(workers):
            worker.batch_size, worker.worker_id = 2, f"worker-{index}"
        threads = [threading.Thread(target=lambda w=w: [w.run_once() for _ in range(4)]) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for worker in workers:
            worker.submitter.close()
        received = server.wait_for(6)
    assert sorted(r.message["Message-ID"] for r in received) == sorted(queued)
    assert sum(w.counters["sent"] for w in workers) == 6


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sasl_plain_after_starttls_and_a_wrong_password(client, settings, pki, tmp_path) -> None:
    identity_id = create(client, settings, "QUAL")
    tracking = send(client, settings, identity_id=identity_id).json()["tracking_id"]
    with SmtpServer(tmp_path / "smtp", pki, sasl=("identito", "s3cret")) as server:
        wrong = sending(
            client,
            settings,
            server,
            pki,
            smtp_auth="plain",
            smtp_cert_path=None,
            smtp_key_path=None,
            smtp_username="identito",
            smtp_password="wrong",
        )
        wrong.run_once()
        waiting = status(client, settings, tracking)  # a configuration matter: the message waits
        assert waiting["state"] == "pending" and "authentication refused: 535" in waiting["last_error"]
        right = sending(
            client,
            settings,
            server,
            pki,
            smtp_auth="plain",
            smtp_cert_path=None,
            smtp_key_path=None,
            smtp_username="identito",
            smtp_password="s3cret",
        )
        assert right.run_once() == 1
        right.submitter.close()
        received = server.wait_for(1)
    assert status(client, settings, tracking)["state"] == "sent" and len(received) == 1
    assert server.logins == ["PLAIN:identito", "PLAIN:identito"]
    assert received[0].client_certificate is None
