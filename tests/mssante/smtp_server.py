"""A real SMTP submission server on loopback for the contract tests (aiosmtpd).

It offers STARTTLS and refuses anything before it (``require_starttls``), asks for a client
certificate signed by the test CA and refuses the TLS session without one (CERT_REQUIRED), offers
DSN (RFC 3461: RET, ENVID, NOTIFY, ORCPT are accepted and kept), and stores every mail it accepts,
in memory and as a file. Scripted replies make it refuse a recipient, answer DATA with a 4xx or
5xx, or hold the first DATA for a while (to kill the sender in the middle of it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli_support import free_port

DSN_PARAMETERS = ("RET", "ENVID", "NOTIFY", "ORCPT")


@dataclass
class Pki:
    """Files of a test PKI: the operator's CA and server certificate, the organisation's client
    certificate, and a client certificate from another (untrusted) CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path
    rogue_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool = False, ip: str | None = None
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: Any | None = None
) -> tuple[Path, Path | None]:
    cert_path = folder / f"{name}.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is None:
        return cert_path, None
    key_path = folder / f"{name}.key"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def make_pki(folder: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1, a client certificate, and a rogue client certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, rogue_ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test MSSante operator CA", ca_key, "Test MSSante operator CA", ca_key, ca=True)
    server_key, client_key, rogue_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    server = _cert("127.0.0.1", server_key, "Test MSSante operator CA", ca_key, ip="127.0.0.1")
    client = _cert("CH de Demonstration (organisation)", client_key, "Test MSSante operator CA", ca_key)
    rogue = _cert("Rogue client", rogue_key, "Rogue CA", rogue_ca_key)
    ca_path, _ = _write(folder, "ca", ca)
    server_cert, server_key_path = _write(folder, "server", server, server_key)
    client_cert, client_key_path = _write(folder, "client", client, client_key)
    rogue_cert, rogue_key_path = _write(folder, "rogue", rogue, rogue_key)
    assert server_key_path and client_key_path and rogue_key_path
    return Pki(
        ca_path, server_cert, server_key_path, client_cert, client_key_path, rogue_cert, rogue_key_path
    )


@dataclass
class Received:
    """One mail the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    rcpt_options: list[str]
    content: bytes
    client_certificate: str | None

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class Script:
    """Scripted replies."""

    rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply (e.g. "550 5.1.1 unknown")
    data: list[str] = field(default_factory=list)  # replies to the next DATA commands, in order
    hold_first_data_seconds: float = 0.0


class _DsnSMTP(SMTP):
    """aiosmtpd's server, also taking the DSN parameters of MAIL and RCPT (kept in the envelope)."""

    def _getparams(self, params: Any) -> Any:
        result = super()._getparams(params)
        if result is not None:
            for name in DSN_PARAMETERS:
                result.pop(name, None)
        return result


class Handler:
    """Stores what it accepts; answers as scripted."""

    def __init__(self, folder: Path, script: Script) -> None:
        self.folder, self.script = folder, script
        self.received: list[Received] = []
        self.data_started: list[str] = []  # Message-ID of each DATA received, stored or not
        self.lock = threading.Lock()
        self._held = False
        self.store_files = True

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-DSN", responses[-1]]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.script.rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = BytesHeaderParser(policy=email.policy.default).parsebytes(content)
        with self.lock:
            self.data_started.append(str(message["Message-ID"]))
            hold = self.script.hold_first_data_seconds if not self._held else 0.0
            self._held = True
            reply = self.script.data.pop(0) if self.script.data else None
        if hold:
            await asyncio.sleep(hold)  # the sender is killed meanwhile: nothing is stored
            return "451 4.3.0 held"
        if reply and not reply.startswith("2"):
            return reply
        peer = session.ssl.get("peercert") if isinstance(session.ssl, dict) else None
        subject = None
        if server.transport is not None:
            ssl_object = server.transport.get_extra_info("ssl_object")
            cert = ssl_object.getpeercert() if ssl_object is not None else peer
            subject = dict(x[0] for x in cert["subject"]).get("commonName") if cert else None
        received = Received(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            list(envelope.mail_options),
            list(envelope.rcpt_options),
            content,
            subject,
        )
        with self.lock:
            self.received.append(received)
            if self.store_files:
                (self.folder / f"{len(self.received):04d}.eml").write_bytes(content)
        return "250 2.0.0 OK queued"


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _DsnSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """The server, started in a thread on a free loopback port."""

    def __init__(
        self,
        folder: Path,
        pki: Pki,
        *,
        tls: bool = True,
        script: Script | None = None,
        sasl: tuple[str, str] | None = None,
    ) -> None:
        """``sasl``: (login, password) required by AUTH instead of a client certificate."""
        folder.mkdir(parents=True, exist_ok=True)
        self.script = script or Script()
        self.handler = Handler(folder, self.script)
        kwargs: dict[str, Any] = {}
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
            context.load_verify_locations(str(pki.ca))
            context.verify_mode = ssl.CERT_NONE if sasl else ssl.CERT_REQUIRED
            kwargs.update(tls_context=context, require_starttls=True)
        if sasl:
            self.logins: list[str] = []

            def authenticator(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                login, password = data.login.decode(), data.password.decode()
                self.logins.append(f"{mechanism}:{login}")
                return AuthResult(success=(login, password) == sasl, handled=False)

            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
        self.port = free_port()
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait until ``count`` mails are stored."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)
