"""Credential adapters: one interface, three implementations (insi.md "Credentials").

- ``ServerCertificate``: IGC-Santé ORG certificate, mutual TLS, CN INSI-AUTO or INSI-MANU.
- ``CardCredential`` (card.py): a CPS/CPE card over PKCS#11 signs a SAML assertion.
- ``RelayedAssertion``: an assertion signed at the desk, checked and placed unchanged.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree

from app.domain.insi import CredentialMode, InsiConfigurationError
from app.integrations.insi.saml import check_assertion

ALLOWED_CNS = ("INSI-AUTO", "INSI-MANU")
SERVER_AUTH_CHANNEL = "server-auth"


class Credential(Protocol):
    """How one call is authenticated."""

    mode: CredentialMode
    channel: str  # the HTTP client (TLS identity) the call goes through

    @property
    def emitter(self) -> str:
        """The Emetteur of ContexteLPS/ContexteBAM."""
        ...

    def assertions(self) -> list[etree._Element]:
        """Signed assertions for wsse:Security (none for a server certificate)."""
        ...


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What the start-up checks read from a server certificate."""

    common_name: str
    organisational_unit: str
    issuer: str
    not_before: datetime
    not_after: datetime


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def describe_certificate(cert: x509.Certificate) -> CertificateInfo:
    """CN, OU (the emitter), issuer and validity dates of a certificate."""
    return CertificateInfo(
        common_name=_attribute(cert.subject, NameOID.COMMON_NAME),
        organisational_unit=_attribute(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def check_server_certificate(info: CertificateInfo, expected_cn: str, now: datetime) -> None:
    """Refuse to start with a certificate INSi would refuse (CN, validity dates, emitter)."""
    if info.common_name not in ALLOWED_CNS or info.common_name != expected_cn:
        raise InsiConfigurationError(
            detail=f"the {expected_cn} certificate has CN {info.common_name!r}; INSi accepts only "
            f"CN={expected_cn} here (DESIR_560)"
        )
    if now < info.not_before:
        raise InsiConfigurationError(
            detail=f"the {expected_cn} certificate is not valid before {info.not_before:%Y-%m-%d}"
        )
    if now >= info.not_after:
        raise InsiConfigurationError(
            detail=f"the {expected_cn} certificate expired on {info.not_after:%Y-%m-%d}"
        )
    if not info.organisational_unit:
        raise InsiConfigurationError(detail=f"the {expected_cn} certificate has no OU (the INSi emitter)")


def _load_pem_or_p12(
    path: Path, password: str | None, key_path: Path | None
) -> tuple[x509.Certificate, bytes, bytes]:
    """Certificate, PEM key (encrypted with a one-off password) and that password."""
    one_off = secrets.token_bytes(24).hex().encode()
    encryption = serialization.BestAvailableEncryption(one_off)
    secret = password.encode() if password else None
    data = path.read_bytes()
    if key_path is None:
        key, cert, _ = pkcs12.load_key_and_certificates(data, secret)
        if key is None or cert is None:
            raise InsiConfigurationError(detail=f"{path.name} holds no key and certificate")
    else:
        cert = x509.load_pem_x509_certificate(data)
        key = serialization.load_pem_private_key(key_path.read_bytes(), secret)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return cert, pem_key, one_off


def client_ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A TLS client context verifying the server (the configured CA bundle, else the system's)."""
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class ServerCertificate:
    """Mutual TLS with an INSI-AUTO or INSI-MANU certificate ("personne morale")."""

    mode = CredentialMode.SERVER_CERTIFICATE

    def __init__(self, info: CertificateInfo, context: ssl.SSLContext) -> None:
        self.info = info
        self.context = context
        self.channel = info.common_name

    @property
    def emitter(self) -> str:
        """The OU of the certificate."""
        return self.info.organisational_unit

    def assertions(self) -> list[etree._Element]:
        """No assertion: the TLS client certificate authenticates the call."""
        return []

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        password: str | None,
        key_path: Path | None,
        expected_cn: str,
        ca_bundle: Path | None,
        now: datetime,
        max_version: str = "1.2",
    ) -> ServerCertificate:
        """Read PKCS#12 (with password) or PEM key + certificate, check it, build the TLS context."""
        try:
            cert, pem_key, one_off = _load_pem_or_p12(path, password, key_path)
        except (OSError, ValueError) as exc:
            raise InsiConfigurationError(
                detail=f"cannot read the {expected_cn} certificate {path.name}"
            ) from exc
        info = describe_certificate(cert)
        check_server_certificate(info, expected_cn, now)
        context = client_ssl_context(ca_bundle)
        context.maximum_version = ssl.TLSVersion.TLSv1_3 if max_version == "1.3" else ssl.TLSVersion.TLSv1_2
        _load_chain(context, cert, pem_key, one_off)
        return cls(info, context)


def _load_chain(context: ssl.SSLContext, cert: x509.Certificate, pem_key: bytes, one_off: bytes) -> None:
    """ssl only loads files: write them to a private directory, load, and remove at once."""
    with tempfile.TemporaryDirectory(prefix="identito-insi-") as folder:
        os.chmod(folder, 0o700)
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(pem_key)
        context.load_cert_chain(cert_file, key_file, password=one_off)


class RelayedAssertion:
    """An assertion signed at the desk: checked (well-formed, signed, not expired), placed unchanged."""

    mode = CredentialMode.RELAYED_ASSERTION
    channel = SERVER_AUTH_CHANNEL

    def __init__(self, assertion: bytes, now: datetime) -> None:
        self.element, self.name_id = check_assertion(assertion, now)

    @property
    def emitter(self) -> str:
        """The NameID of the card holder's assertion."""
        return self.name_id

    def assertions(self) -> list[etree._Element]:
        """The desk's assertion, as received."""
        return [self.element]
