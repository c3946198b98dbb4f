"""The SMTP worker killed with SIGKILL in the middle of DATA (a real `identito mss worker` process):
nothing is lost, the next worker sends the mail once the lease expires, with the same Message-ID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.api.test_documents_api import create
from tests.cli_support import CLI, clean_env
from tests.conftest import auth
from tests.mssante.smtp_server import Script, SmtpServer, make_pki
from tests.mssante.test_send_api import send

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ROOT = Path(__file__).resolve().parents[2]


def _worker(env: dict[str, str], folder: Path, name: str) -> subprocess.Popen[bytes]:
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen(
        [*CLI, "mss", "worker"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _until(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_worker_killed_mid_send_loses_nothing_and_the_resent_mail_keeps_its_message_id(
    client, settings, tmp_path
) -> None:
    pki = make_pki(tmp_path / "pki")
    identity_id = create(client, settings, "QUAL")
    queued = send(client, settings, identity_id=identity_id).json()
    with SmtpServer(tmp_path / "smtp", pki, script=Script(hold_first_data_seconds=6)) as server:
        env = clean_env(
            PYTHONPATH=str(ROOT),
            IDENTITO_ENVIRONMENT="development",
            IDENTITO_DATABASE_URL=settings.database_url,
            IDENTITO_AUTH__SECRET=settings.auth.secret or "",
            IDENTITO_AUTH__DEV_TOKENS="true",
            IDENTITO_MSSANTE__SMTP_HOST="127.0.0.1",
            IDENTITO_MSSANTE__SMTP_PORT=str(server.port),
            IDENTITO_MSSANTE__SMTP_CA_PATH=str(pki.ca),
            IDENTITO_MSSANTE__SMTP_CERT_PATH=str(pki.client_cert),
            IDENTITO_MSSANTE__SMTP_KEY_PATH=str(pki.client_key),
            IDENTITO_MSSANTE__LEASE_SECONDS="3",
            IDENTITO_MSSANTE__WORKER_POLL_SECONDS="0.2",
            IDENTITO_MSSANTE__RETRY_BASE_SECONDS="0",
        )
        first = _worker(env, tmp_path, "first")
        try:
            assert _until(lambda: server.handler.data_started, 60), (tmp_path / "first.log").read_text()
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        in_flight = client.get(
            f"/documents/messages/{queued['tracking_id']}", headers=auth(settings, "documents")
        )
        assert in_flight.json()["state"] == "sending" and server.received == []

        second = _worker(env, tmp_path, "second")
        try:
            received = server.wait_for(1, timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    assert len(received) == 1, (tmp_path / "second.log").read_text()
    assert received[0].message["Message-ID"] == queued["message_id"] == server.handler.data_started[0]
    assert second.returncode == 0
    shown = client.get(
        f"/documents/messages/{queued['tracking_id']}", headers=auth(settings, "documents")
    ).json()
    assert shown["state"] == "sent" and shown["attempts"] == 2
    assert {r["status"] for r in shown["recipients"]} == {"sent"}
