"""Contract: faults, timeouts and TLS failures are typed errors, never "not found"."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from app.domain.insi import (
    CallContext,
    CallPurpose,
    CrCode,
    FaultCategory,
    InsiConfigurationError,
    InsiTechnicalError,
    InsiTimeout,
    InsiTlsError,
    InsiUnavailable,
    TraitsQuery,
)
from app.integrations.insi.credentials import ServerCertificate, client_ssl_context, describe_certificate
from app.integrations.insi.transport import post_with_deadline
from tests.insi_support import *  # noqa: F403
from tests.insi_support import ADRUN, desk_assertion, make_client, settings_for

ME = CallContext("agent-42")
PANNE = TraitsQuery("PANNE", ("SERVICE",), "M", date(1970, 1, 1))
ERREUR = TraitsQuery("ERREUR", ("TECHNIQUE",), "F", date(1970, 1, 1))
LENTEUR = TraitsQuery("LENTEUR", ("RESEAU",), "M", date(1970, 1, 1))


@pytest.fixture
def http_client(sim_http, insi_pki, tmp_path, journal):
    c = make_client(settings_for(sim_http.url, insi_pki, timeout_seconds=0.6), tmp_path / "var", journal)
    yield c
    c.close()


@pytest.fixture
def tls_client(sim_tls, insi_pki, tmp_path, journal):
    c = make_client(settings_for(sim_tls.url, insi_pki), tmp_path / "var", journal)
    yield c
    c.close()


@pytest.mark.parametrize("dialect", ["current", "legacy"])
@pytest.mark.parametrize(
    "query,error,detail,subcode,category",
    [
        (PANNE, InsiUnavailable, "desir_1020", "siram_40", FaultCategory.UNAVAILABLE),
        (ERREUR, InsiTechnicalError, "insi_102", "siram_40", FaultCategory.TECHNICAL),
    ],
)
def test_scripted_faults_are_typed(
    http_client, sim_http, journal, dialect, query, error, detail, subcode, category
):
    sim_http.behaviour.dialect = dialect
    with pytest.raises(error) as caught:
        http_client.search_by_traits(query, ME)
    assert caught.value.detail_code == detail and caught.value.fault_code == subcode
    assert caught.value.category is category and caught.value.retryable
    assert "not a" in str(caught.value) or "try again" in str(caught.value)
    assert journal[-1].outcome == detail and journal[-1].error_category is category
    echoed = caught.value.message_id == journal[-1].message_id
    assert echoed  # echoed by the server (current) or kept from the request (legacy)


@pytest.mark.parametrize("dialect", ["current", "legacy"])
def test_unknown_idam_is_a_configuration_error(sim_http, insi_pki, tmp_path, dialect):
    sim_http.behaviour.dialect = dialect
    client = make_client(settings_for(sim_http.url, insi_pki, idam="NOT-AUTHORISED"), tmp_path)
    with pytest.raises(InsiConfigurationError) as caught:
        client.search_by_traits(ADRUN, ME)
    assert (caught.value.fault_code, caught.value.detail_code) == ("siram_100", "desir_550")
    assert not caught.value.retryable
    client.close()


def test_faults_at_a_given_rate(http_client, sim_http):
    sim_http.behaviour.fault_rate, sim_http.behaviour.fault_kind, sim_http.behaviour.seed = (
        1.0,
        "technical",
        1,
    )
    with pytest.raises(InsiTechnicalError):
        http_client.search_by_traits(ADRUN, ME)
    sim_http.behaviour.fault_rate = 0.0
    assert http_client.search_by_traits(ADRUN, ME).code is CrCode.FOUND


def test_a_hanging_service_is_a_timeout_within_the_deadline(http_client, sim_http, journal):
    sim_http.behaviour.hang_seconds = 3.0
    started = time.monotonic()
    with pytest.raises(InsiTimeout) as caught:
        http_client.search_by_traits(LENTEUR, ME)
    assert time.monotonic() - started < 1.5
    assert caught.value.category is FaultCategory.UNAVAILABLE
    assert journal[-1].outcome == "insi-timeout"


def test_latency_beyond_the_deadline_is_a_timeout(http_client, sim_http):
    sim_http.behaviour.latency_ms = 1500
    with pytest.raises(InsiTimeout):
        http_client.search_by_traits(ADRUN, ME)


def test_nobody_listening_is_unavailability(insi_pki, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(settings_for(f"http://127.0.0.1:{port}/lps", insi_pki), tmp_path)
    with pytest.raises(InsiUnavailable):
        client.search_by_traits(ADRUN, ME)
    client.close()


def test_mutual_tls_uses_manu_for_a_person_and_auto_for_a_campaign(tls_client, sim_tls, journal):
    assert tls_client.search_by_traits(ADRUN, ME).code is CrCode.FOUND
    assert (
        tls_client.search_by_traits(ADRUN, CallContext("campaign-3", CallPurpose.UNATTENDED)).code
        is CrCode.FOUND
    )
    assert list(sim_tls.behaviour.client_cns) == ["INSI-MANU", "INSI-AUTO"]
    assert [r.requested_by for r in journal] == ["agent-42", "campaign-3"]


def test_a_certificate_with_another_cn_gets_desir_560(sim_tls, insi_pki, tmp_path):
    client = make_client(settings_for(sim_tls.url, insi_pki), tmp_path)
    # Bypass the start-up check on purpose, to see what the server says.
    from cryptography import x509

    context = client_ssl_context(insi_pki.ca)
    context.load_cert_chain(insi_pki.bad_cn.cert, insi_pki.bad_cn.key)
    info = describe_certificate(x509.load_pem_x509_certificate(insi_pki.bad_cn.cert.read_bytes()))
    client.credentials.manu = ServerCertificate(info, context)
    from app.integrations.insi.wiring import http_client as make_http

    client.channels[info.common_name] = make_http(context, 4)
    with pytest.raises(InsiConfigurationError) as caught:
        client.search_by_traits(ADRUN, ME)
    assert caught.value.detail_code == "DESIR_560" and not caught.value.retryable
    client.close()


def test_no_client_certificate_and_no_assertion_gets_desir_560(sim_tls, insi_pki):
    import httpx

    from app.integrations.insi.transport import Timeouts

    with httpx.Client(verify=client_ssl_context(insi_pki.ca)) as plain:
        raw = post_with_deadline(
            plain,
            sim_tls.url,
            _bare_request(),
            {"Content-Type": "application/soap+xml; charset=utf-8"},
            Timeouts(2, 2, 3),
        )
    assert raw.status_code == 500 and b"DESIR_560" in raw.content


def _bare_request() -> bytes:
    from app.config import InsiSettings
    from app.domain.insi import CredentialMode, InsiOperation
    from app.integrations.insi.client import InsiClient
    from app.integrations.insi.wiring import build_credentials

    class NoCredential:
        mode, channel, emitter = CredentialMode.SERVER_CERTIFICATE, "server-auth", "X"

        def assertions(self):
            return []

    import tempfile
    from pathlib import Path

    settings = InsiSettings()
    client = InsiClient(settings, Path(tempfile.mkdtemp()), build_credentials(settings))
    body = {"NomNaissance": "ADRUN", "Prenom": ["ZOE"], "Sexe": "F", "DateNaissance": "1975-12-31"}
    content = client.build_request(
        InsiOperation.TRAITS, body, NoCredential(), "uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    )
    client.close()
    return content


def test_a_certificate_from_an_unknown_authority_is_a_tls_error(sim_tls, insi_pki, tmp_path):
    rogue = insi_pki.rogue_manu
    settings = settings_for(
        sim_tls.url,
        insi_pki,
        cert_manu_path=rogue.cert,
        cert_manu_key_path=rogue.key,
        cert_manu_password=None,
    )
    client = make_client(settings, tmp_path)
    with pytest.raises(InsiTlsError) as caught:
        client.search_by_traits(ADRUN, ME)
    assert caught.value.category is FaultCategory.CONFIGURATION
    client.close()


def test_an_untrusted_server_is_a_tls_error(sim_tls, insi_pki, tmp_path):
    rogue_ca = insi_pki.rogue_manu.cert.parent / "rogue_ca.crt"
    client = make_client(settings_for(sim_tls.url, insi_pki, ca_bundle_path=rogue_ca), tmp_path)
    with pytest.raises(InsiTlsError):
        client.search_by_traits(ADRUN, ME)
    client.close()


def test_relayed_assertion_over_server_auth_tls(sim_tls, insi_pki, tmp_path, journal):
    from lxml import etree
    from signxml import XMLVerifier

    client = make_client(settings_for(sim_tls.url, insi_pki), tmp_path, journal)
    assertion = desk_assertion(insi_pki.manu)
    answer = client.search_by_traits(ADRUN, CallContext("agent-1", relayed_assertion=assertion))
    assert answer.code is CrCode.FOUND
    assert list(sim_tls.behaviour.client_cns) == [None]  # no client certificate: the assertion authenticates
    received = etree.fromstring(sim_tls.behaviour.received[-1])
    placed = received.find(".//{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    XMLVerifier().verify(etree.tostring(placed), x509_cert=insi_pki.manu.cert.read_text())
    assert journal[-1].credential_mode.value == "relayed-assertion" and journal[-1].emitter == "899700000001"
    client.close()


def test_tls_endpoint_refuses_at_startup_certificates_insi_would_refuse(insi_pki, tmp_path):
    from app.integrations.insi.wiring import build_credentials

    for overrides, words in [
        (
            {
                "cert_manu_path": insi_pki.bad_cn.cert,
                "cert_manu_key_path": insi_pki.bad_cn.key,
                "cert_manu_password": None,
            },
            "CN",
        ),
        (
            {
                "cert_manu_path": insi_pki.expired.cert,
                "cert_manu_key_path": insi_pki.expired.key,
                "cert_manu_password": None,
            },
            "expired",
        ),
        ({"cert_auto_path": insi_pki.manu.cert, "cert_auto_key_path": insi_pki.manu.key}, "INSI-AUTO"),
        ({"cert_manu_password": "wrong"}, "cannot read"),
    ]:
        with pytest.raises(InsiConfigurationError) as caught:
            build_credentials(
                settings_for("https://127.0.0.1:1/lps", insi_pki, **overrides), datetime.now(UTC)
            )
        assert words in str(caught.value)


def test_a_body_outside_the_schema_is_refused_by_the_simulator(sim_http, insi_pki):
    import httpx

    from app.integrations.insi.transport import Timeouts

    request = _bare_request().replace(b">ADRUN<", b">adrun<")
    with httpx.Client() as plain:
        raw = post_with_deadline(
            plain,
            sim_http.url,
            request,
            {"Content-Type": "application/soap+xml; charset=utf-8"},
            Timeouts(2, 2, 3),
        )
    assert raw.status_code == 500 and b"siram_1<" in raw.content and b"Sender" in raw.content


def test_a_server_dripping_bytes_cannot_outlast_the_total_deadline(insi_pki, tmp_path):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 5000\r\n\r\n"
            )
            while not stop.is_set():
                try:
                    connection.sendall(b" ")
                except OSError:
                    return
                stop.wait(0.05)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/lps"
    client = make_client(settings_for(url, insi_pki, timeout_seconds=0.5, read_timeout_seconds=8.0), tmp_path)
    started = time.monotonic()
    try:
        with pytest.raises(InsiTimeout):
            client.search_by_traits(ADRUN, ME)
        assert time.monotonic() - started < 1.0  # every read succeeds: only the total deadline stops it
    finally:
        stop.set()
        client.close()
        listener.close()
        thread.join(timeout=2)


@pytest.mark.parametrize(("read", "total", "waited"), [(0.4, 3.0, "0.4"), (5.0, 0.5, "0.5")])
def test_the_timeout_message_states_the_configured_read_timeout(
    sim_http, insi_pki, tmp_path, read, total, waited
):
    sim_http.behaviour.hang_seconds = 3.0
    settings = settings_for(sim_http.url, insi_pki, timeout_seconds=total, read_timeout_seconds=read)
    client = make_client(settings, tmp_path / "var")
    try:
        with pytest.raises(InsiTimeout) as caught:
            client.search_by_traits(LENTEUR, ME)
    finally:
        client.close()
    french, english = caught.value.message("fr"), caught.value.message("en")
    assert f"n'a pas répondu en {waited} s" in french and f"délai de lecture {read:g} s" in french
    assert f"within {waited} s" in english and f"read timeout {read:g} s" in english
