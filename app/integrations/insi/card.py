"""CPS/CPE card over PKCS#11: log in with the PIN, read the certificate, sign the assertion.

The signed assertion is valid about one hour and reused until close to its expiry, so a call
after the first costs a copy of an element, not a signature. A PKCS#11 session is not safe for
concurrent use: signing is serialised by a lock.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree
from pkcs11 import Attribute, Mechanism, ObjectClass

from app.domain.insi import CredentialMode, InsiConfigurationError
from app.integrations.insi.credentials import SERVER_AUTH_CHANNEL
from app.integrations.insi.saml import AssertionFacts, build_assertion, sign_assertion

_LIBRARIES: dict[str, Any] = {}
_LIB_LOCK = threading.Lock()


def _library(module: Path) -> Any:
    """A PKCS#11 module is loaded once per process."""
    with _LIB_LOCK:
        if str(module) not in _LIBRARIES:
            _LIBRARIES[str(module)] = pkcs11.lib(str(module))
        return _LIBRARIES[str(module)]


def holder_id(cert: x509.Certificate) -> str:
    """The card holder's identifier: the subject's serialNumber, else its CN."""
    for oid in (NameOID.SERIAL_NUMBER, NameOID.COMMON_NAME):
        values = cert.subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    raise InsiConfigurationError(detail="the card certificate names no holder")


class CardCredential:
    """A professional's CPS/CPE card: SAML assertion signed with the card's signature key."""

    mode = CredentialMode.CARD
    channel = SERVER_AUTH_CHANNEL

    def __init__(
        self,
        *,
        module: Path,
        token_label: str,
        pin: str,
        key_label: str | None,
        billing_id: str,
        activity_sector: str,
        holder: str | None = None,
        validity: timedelta = timedelta(hours=1),
        renew_margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        try:
            token = _library(module).get_token(token_label=token_label)
            self._session = token.open(user_pin=pin)
            self._key = self._session.get_key(ObjectClass.PRIVATE_KEY, label=key_label)
            cert_der = self._certificate_der(key_label)
        except pkcs11.PKCS11Error as exc:
            raise InsiConfigurationError(detail=f"card: {type(exc).__name__}") from exc
        self.certificate_der = cert_der
        certificate = x509.load_der_x509_certificate(cert_der)
        self.facts = AssertionFacts(
            issuer_dn=certificate.subject.rfc4514_string(),
            name_id=holder or holder_id(certificate),
            billing_id=billing_id,
            activity_sector=activity_sector,
        )
        self.validity, self.renew_margin, self.clock = validity, renew_margin, clock
        self._lock = threading.Lock()
        self._cached: tuple[etree._Element, datetime] | None = None
        self.signatures = 0

    def _certificate_der(self, label: str | None) -> bytes:
        attrs: dict[Attribute, object] = {Attribute.CLASS: ObjectClass.CERTIFICATE}
        if label:
            attrs[Attribute.LABEL] = label
        for obj in self._session.get_objects(attrs):
            return bytes(obj[Attribute.VALUE])
        raise InsiConfigurationError(detail="no signature certificate on the card")

    @property
    def emitter(self) -> str:
        """The NameID of the holder's assertion."""
        return self.facts.name_id

    def _sign(self, data: bytes) -> bytes:
        return bytes(self._key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))

    def signed_assertion(self) -> etree._Element:
        """The current signed assertion, signed anew when it nears its expiry."""
        now = self.clock()
        with self._lock:
            if self._cached is None or now >= self._cached[1] - self.renew_margin:
                assertion = build_assertion(self.facts, now, self.validity)
                sign_assertion(assertion, self._sign, self.certificate_der)
                self._cached = (assertion, now + self.validity)
                self.signatures += 1
            return self._cached[0]

    def assertions(self) -> list[etree._Element]:
        """A copy of the signed assertion for one request's wsse:Security."""
        return [copy.deepcopy(self.signed_assertion())]

    def close(self) -> None:
        """Log out and close the PKCS#11 session."""
        self._session.close()
