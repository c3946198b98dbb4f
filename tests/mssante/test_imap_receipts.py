"""The receipts worker against a real IMAP server on loopback (Debian's dovecot: STARTTLS required,
client certificate checked): DSNs and MDNs from the mailbox update each recipient, a 904
integration error reaches the identitovigilance worklist, duplicate DSNs are ignored, and every
handled mail is marked seen."""

from __future__ import annotations

import os

import pytest

from app.integrations.mssante.imap import ImapConfig, ImapFailure, ImapReader
from app.services import mss
from app.workers.mss_receipts import ReceiptWorker
from tests.api.test_documents_api import create
from tests.conftest import auth
from tests.mssante import imap_server
from tests.mssante.imap_server import PASSWORD, USER, ImapServer
from tests.mssante.smtp_server import Pki, make_pki
from tests.mssante.test_receipts import KO, dsn, mdn
from tests.mssante.test_send_api import TO, send

if not imap_server.available():  # CI installs dovecot-imapd (scripts/setup.sh --test) and runs as root
    if os.environ.get("CI") or os.environ.get("IDENTITO_TEST_REQUIRE_IMAP"):
        raise RuntimeError("dovecot (dovecot-imapd) and root are needed for the IMAP receipt tests")
    pytest.skip("dovecot-imapd is not installed or not root", allow_module_level=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def reader(server: ImapServer, pki: Pki, *, rogue: bool = False) -> ImapReader:
    return ImapReader(
        ImapConfig(
            "127.0.0.1",
            server.port,
            USER,
            PASSWORD,
            pki.ca,
            pki.rogue_cert if rogue else pki.client_cert,
            pki.rogue_key if rogue else pki.client_key,
            timeout_seconds=10,
        )
    )


def test_receipts_from_the_mailbox_update_statuses_and_reach_the_worklist(client, settings, pki) -> None:
    identity_id = create(client, settings, "QUAL")
    queued = send(client, settings, identity_id=identity_id).json()
    ctx = client.app.state.ctx
    (claimed,) = mss.claim(ctx, "w", 5, 60)
    mss.record_sent(ctx, "w", claimed, {})
    delivery = dsn(
        queued["tracking_id"],
        queued["message_id"],
        [(TO[0], "delivered", "2.0.0"), (TO[1], "failed", "5.1.1")],
    )
    with ImapServer(pki) as server:
        server.deliver(delivery)
        server.deliver(delivery)  # the operator sent the same DSN twice
        server.deliver(mdn(queued["message_id"], TO[0], KO, subject="[KO Intégration système !][904] Lettre"))
        server.deliver(
            b"From: someone@ch.mssante.fr\r\nSubject: question\r\nMessage-ID: <q@ch>\r\n\r\nBonjour\r\n"
        )
        worker = ReceiptWorker(ctx, lambda: reader(server, pki))
        assert worker.run_once() == 4
        assert worker.run_once() == 0  # all marked seen
        worker.reader.close()

    assert worker.counters == {
        "dsn_applied": 1,
        "dsn_ignored": 1,
        "mdn_applied": 1,
        "not_receipts": 1,
        "worklist_items": 1,
    }
    shown = client.get(
        f"/documents/messages/{queued['tracking_id']}", headers=auth(settings, "documents")
    ).json()
    assert [(r["address"], r["status"]) for r in shown["recipients"]] == [
        (TO[0], "integration_error"),
        (TO[1], "failed"),
    ]
    items = client.get("/worklists/mss_integration_error", headers=auth(settings, "identitovigilance")).json()
    assert [(i["identity_id"], i["details"]["code"]) for i in items["items"]] == [(identity_id, "904")]
    text = client.get("/metrics").text
    assert 'identito_mss_recipients{status="integration_error"} 1' in text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bad_client_certificate_reads_nothing(client, settings, pki) -> None:
    with ImapServer(pki) as server:
        server.deliver(b"From: a@ch.mssante.fr\r\nSubject: x\r\n\r\nx\r\n")
        bad = reader(server, pki, rogue=True)
        with pytest.raises(ImapFailure, match="TLS or login"):
            bad.unseen()
        good = reader(server, pki)
        assert len(good.unseen()) == 1  # still unseen: nothing was read with the bad certificate
        good.close()
