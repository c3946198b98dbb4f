"""SAML 2.0 assertion of a CPS/CPE card holder, signed as INSi expects (insi.md "Credentials").

Enveloped XML-DSig, exclusive c14n, RSA-SHA256, SHA-256 digest, Reference to the assertion ID,
the card certificate in KeyInfo. The private key never leaves the card: ``sign_assertion`` takes
a signing function (PKCS#11 in card.py).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from app.domain.errors import InvalidTrait
from app.domain.messages import register_terms
from app.integrations.insi.ns import DS, SAML2

# Why a relayed assertion is unusable (here and in client.py), in French.
register_terms({
    "not well-formed XML": "XML mal formé",
    "bad validity dates": "dates de validité incorrectes",
    "not a SAML 2.0 assertion": "ce n'est pas une assertion SAML 2.0",
    "not signed": "non signée",
    "no validity dates": "sans dates de validité",
    "not yet valid": "pas encore valide",
    "expired": "expirée",
    "no NameID": "sans NameID",
    "missing": "absente",
}, parameter="reason")

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
X509_SUBJECT = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
CLOCK_SKEW = timedelta(minutes=5)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True, slots=True)
class AssertionFacts:
    """What goes into the professional's assertion."""

    issuer_dn: str
    name_id: str
    billing_id: str
    activity_sector: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{SAML2}}}{name}", **attrs)
    if text is not None:
        element.text = text
    return element


def build_assertion(facts: AssertionFacts, now: datetime, validity: timedelta) -> etree._Element:
    """An unsigned assertion: Issuer, Subject/NameID (CPS), Conditions, attributes."""
    root = etree.Element(
        f"{{{SAML2}}}Assertion",
        nsmap={"saml2": SAML2},
        ID="_" + uuid.uuid4().hex,
        IssueInstant=_iso(now),
        Version="2.0",
    )
    _sub(root, "Issuer", facts.issuer_dn, Format=X509_SUBJECT)
    subject = _sub(root, "Subject")
    _sub(subject, "NameID", facts.name_id, NameQualifier="CPS")
    _sub(subject, "SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")
    _sub(root, "Conditions", NotBefore=_iso(now), NotOnOrAfter=_iso(now + validity))
    authn = _sub(root, "AuthnStatement", AuthnInstant=_iso(now))
    context = _sub(authn, "AuthnContext")
    _sub(context, "AuthnContextClassRef", "urn:oasis:names:tc:SAML:2.0:ac:classes:X509")
    statement = _sub(root, "AttributeStatement")
    for name, value in (
        ("identifiantFacturation", facts.billing_id),
        ("secteurActivite", facts.activity_sector),
    ):
        attribute = _sub(statement, "Attribute", Name=name)
        _sub(attribute, "AttributeValue", value)
    return root


def _c14n(element: etree._Element) -> bytes:
    return bytes(etree.tostring(element, method="c14n", exclusive=True, with_comments=False))


def _ds(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{DS}}}{name}", **attrs)
    if text is not None:
        element.text = text
    return element


def sign_assertion(
    assertion: etree._Element, sign: Callable[[bytes], bytes], certificate_der: bytes
) -> bytes:
    """Sign the assertion in place (enveloped, placed after Issuer) and return its bytes."""
    digest = base64.b64encode(hashlib.sha256(_c14n(assertion)).digest()).decode()
    signature = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    assertion.insert(1, signature)  # SAML schema order: Issuer, Signature, Subject...
    info = _ds(signature, "SignedInfo")
    _ds(info, "CanonicalizationMethod", Algorithm=EXC_C14N)
    _ds(info, "SignatureMethod", Algorithm=RSA_SHA256)
    reference = _ds(info, "Reference", URI="#" + assertion.get("ID", ""))
    transforms = _ds(reference, "Transforms")
    _ds(transforms, "Transform", Algorithm=ENVELOPED)
    _ds(transforms, "Transform", Algorithm=EXC_C14N)
    _ds(reference, "DigestMethod", Algorithm=SHA256)
    _ds(reference, "DigestValue", digest)
    value = sign(_c14n(info))
    _ds(signature, "SignatureValue", base64.b64encode(value).decode())
    x509_data = _ds(_ds(signature, "KeyInfo"), "X509Data")
    _ds(x509_data, "X509Certificate", base64.b64encode(certificate_der).decode())
    return bytes(etree.tostring(assertion))


def parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse an opaque XML element received from the desk (no entities, no network)."""
    try:
        return etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="not well-formed XML") from exc


def _instant(value: str | None, what: str) -> datetime:
    try:
        return datetime.fromisoformat((value or "").replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="bad validity dates") from None


def check_assertion(data: bytes, now: datetime, what: str = "assertion") -> tuple[etree._Element, str]:
    """A relayed assertion: a signed saml2:Assertion, currently valid. Returns it and its NameID."""
    root = parse_xml(data, what)
    if root.tag != f"{{{SAML2}}}Assertion":
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="not a SAML 2.0 assertion")
    if root.find(f"{{{DS}}}Signature") is None:
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="not signed")
    conditions = root.find(f"{{{SAML2}}}Conditions")
    if conditions is None:
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="no validity dates")
    if now + CLOCK_SKEW < _instant(conditions.get("NotBefore"), what):
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="not yet valid")
    if now >= _instant(conditions.get("NotOnOrAfter"), what):
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="expired")
    name_id = root.findtext(f"{{{SAML2}}}Subject/{{{SAML2}}}NameID")
    if not name_id:
        raise InvalidTrait("insi-assertion-invalid", field=what, reason="no NameID")
    return root, name_id.strip()
