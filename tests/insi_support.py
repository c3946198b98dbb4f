"""Fixtures of the INSi tests: a throw-away PKI, the simulator on real sockets, clients.

Imported by the INSi test modules (``from tests.insi_support import *``) so that several
helpers' conftest files do not collide. Servers bind 127.0.0.1 port 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from app.config import InsiSettings
from app.domain.insi import InsiCallRecord, TraitsQuery
from app.integrations.insi.client import InsiClient
from app.integrations.insi.wiring import build_credentials
from app.simulator.app import Behaviour
from app.simulator.pki import Issued, TestAuthority
from app.simulator.server import SimulatorServer, TlsFiles

WSDL_DIR = Path(__file__).resolve().parents[1] / "wsdl"
ADRUN = TraitsQuery("ADRUN", ("ZOE",), "F", date(1975, 12, 31))


@dataclass(frozen=True)
class Pki:
    """Certificates of the INSi tests."""

    ca: Path
    server: Issued
    auto: Issued
    manu: Issued
    bad_cn: Issued
    expired: Issued
    rogue_manu: Issued


@pytest.fixture(scope="session")
def insi_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA with the simulator's, INSI-AUTO, INSI-MANU, wrong-CN and expired certificates."""
    folder = tmp_path_factory.mktemp("insi-pki")
    ca = TestAuthority(folder / "ca")
    rogue = TestAuthority(folder / "rogue", name="ROGUE CA")
    past = datetime.now(UTC) - timedelta(days=10)
    return Pki(
        ca=ca.ca_file,
        server=ca.issue("server", "127.0.0.1", ou=None, server=True),
        auto=ca.issue("auto", "INSI-AUTO"),
        manu=ca.issue("manu", "INSI-MANU"),
        bad_cn=ca.issue("bad", "HOPITAL-SERVEUR"),
        expired=ca.issue("expired", "INSI-MANU", not_before=past, not_after=past + timedelta(days=1)),
        rogue_manu=rogue.issue("rogue", "INSI-MANU"),
    )


def _serve(tls: TlsFiles | None) -> Iterator[SimulatorServer]:
    server = SimulatorServer(behaviour=Behaviour(keep_requests=10), tls=tls).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sim_http_server() -> Iterator[SimulatorServer]:
    """The simulator over plain HTTP."""
    yield from _serve(None)


@pytest.fixture(scope="session")
def sim_tls_server(insi_pki: Pki) -> Iterator[SimulatorServer]:
    """The simulator over HTTPS, checking client certificates issued by the test CA."""
    yield from _serve(TlsFiles(insi_pki.server.cert, insi_pki.server.key, insi_pki.ca))


def _reset(server: SimulatorServer) -> SimulatorServer:
    fresh = Behaviour(keep_requests=10, require_authentication=server.behaviour.require_authentication)
    for f in dataclasses.fields(Behaviour):
        if f.name not in ("received", "client_cns"):
            setattr(server.behaviour, f.name, getattr(fresh, f.name))
    server.behaviour.received.clear()
    server.behaviour.client_cns.clear()
    return server


@pytest.fixture
def sim_http(sim_http_server: SimulatorServer) -> SimulatorServer:
    """The HTTP simulator with its default behaviour."""
    return _reset(sim_http_server)


@pytest.fixture
def sim_tls(sim_tls_server: SimulatorServer) -> SimulatorServer:
    """The HTTPS simulator with its default behaviour."""
    return _reset(sim_tls_server)


def settings_for(url: str, pki: Pki, **overrides: object) -> InsiSettings:
    """Client settings with the test INSI-AUTO (PEM) and INSI-MANU (PKCS#12) certificates."""
    values: dict[str, object] = {
        "endpoint": url,
        "cert_auto_path": pki.auto.cert,
        "cert_auto_key_path": pki.auto.key,
        "cert_manu_path": pki.manu.p12("manu-password"),
        "cert_manu_password": "manu-password",
        "ca_bundle_path": pki.ca,
        "timeout_seconds": 3.0,
    }
    values.update(overrides)
    return InsiSettings(**values)  # type: ignore[arg-type]


class Journal(list[InsiCallRecord]):
    """Collects call records like the journal would."""

    def __call__(self, record: InsiCallRecord) -> None:
        self.append(record)


@pytest.fixture
def journal() -> Journal:
    """An in-memory journal."""
    return Journal()


def make_client(settings: InsiSettings, var_dir: Path, journal: Journal | None = None) -> InsiClient:
    """A client with the settings' credentials."""
    return InsiClient(settings, var_dir, build_credentials(settings), observer=journal)


def request_schema() -> etree.XMLSchema:
    """The project's own schema of a whole request envelope."""
    return etree.XMLSchema(etree.parse(str(WSDL_DIR / "soap12-request.xsd")))


def desk_assertion(
    issued: Issued, *, now: datetime | None = None, validity: timedelta = timedelta(hours=1)
) -> bytes:
    """An assertion signed "at the desk" with a software key (stands for the desk's card agent)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from app.integrations.insi.saml import AssertionFacts, build_assertion, sign_assertion

    key = serialization.load_pem_private_key(issued.key.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    facts = AssertionFacts(cert.subject.rfc4514_string(), "899700000001", "123456789", "SA07")
    assertion = build_assertion(facts, now or datetime.now(UTC), validity)
    der = cert.public_bytes(serialization.Encoding.DER)
    return sign_assertion(
        assertion,
        lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
        der,  # type: ignore[union-attr]
    )


def init_softhsm_token(folder: Path, token: str, pin: str, label: str) -> str:
    """Initialise a SoftHSM2 token in ``folder`` (own SOFTHSM2_CONF) with an RSA key and its
    self-signed certificate, both labelled ``label``; returns the certificate (PEM)."""
    import os
    import subprocess

    import pkcs11
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from pkcs11 import Attribute, CertificateType, ObjectClass
    from pkcs11.util.rsa import decode_rsa_private_key

    (folder / "tokens").mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", token, "--pin", pin, "--so-pin", "65432100"],
        check=True,
        capture_output=True,
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CPS TEST"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "899700000042"),
            x509.NameAttribute(NameOID.COMMON_NAME, "899700000042/JEAN DUPONT"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with (
        pkcs11.lib("/usr/lib/softhsm/libsofthsm2.so")
        .get_token(token_label=token)
        .open(rw=True, user_pin=pin) as s
    ):
        attrs = decode_rsa_private_key(der_key)
        attrs.update(
            {
                Attribute.TOKEN: True,
                Attribute.LABEL: label,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            }
        )
        s.create_object(attrs)
        s.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: label,
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            }
        )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
