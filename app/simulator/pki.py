"""A throw-away PKI for the simulator over HTTPS (tests, benchmarks, demos only).

Generates a test authority, a server certificate for 127.0.0.1/localhost and client certificates
shaped like IGC-Santé ORG ones (CN INSI-AUTO / INSI-MANU, OU = the emitter). Never for production.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

EMITTER = "499700000000000 IDENTITO TEST"


@dataclass(frozen=True, slots=True)
class Issued:
    """Files of one issued certificate."""

    cert: Path
    key: Path

    def p12(self, password: str) -> Path:
        """The same key and certificate as a PKCS#12 file protected by a password."""
        key = serialization.load_pem_private_key(self.key.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        data = pkcs12.serialize_key_and_certificates(
            b"insi",
            key,
            cert,
            None,
            serialization.BestAvailableEncryption(password.encode()),
        )
        path = self.cert.with_suffix(".p12")
        path.write_bytes(data)
        return path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "IDENTITO TEST"),
    ]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _write(folder: Path, stem: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> Issued:
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Issued(cert_path, key_path)


class TestAuthority:
    """A certificate authority that issues the simulator's and the client's certificates."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path, name: str = "IDENTITO TEST CA") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.key, now = folder, _key(), datetime.now(UTC)
        subject = _name(name)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = _write(folder, name.replace(" ", "_").lower(), self.cert, self.key).cert

    def issue(
        self,
        stem: str,
        cn: str,
        *,
        ou: str | None = EMITTER,
        server: bool = False,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Issued:
        """Issue a client (or server) certificate."""
        now, key = datetime.now(UTC), _key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, ou))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(days=1))
            .not_valid_after(not_after or now + timedelta(days=30))
        )
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return _write(self.folder, stem, builder.sign(self.key, hashes.SHA256()), key)
