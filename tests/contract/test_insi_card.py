"""CPS/CPE card over PKCS#11, against a real token (SoftHSM2), verified by independent verifiers."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from signxml import InvalidSignature, XMLVerifier

from app.domain.insi import CallContext, CrCode, InsiConfigurationError
from app.integrations.insi.card import CardCredential
from app.integrations.insi.ns import DS, SAML2
from tests.insi_support import *  # noqa: F403
from tests.insi_support import ADRUN, init_softhsm_token, make_client, request_schema, settings_for

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN, TOKEN, LABEL = "123456", "identito-cps", "signature"


class Token:
    """A SoftHSM2 token holding the card's signature key and certificate."""

    def __init__(self, cert_pem: str, folder: Path) -> None:
        self.cert_pem, self.folder = cert_pem, folder


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> Token:
    """Initialise a SoftHSM2 token (own SOFTHSM2_CONF) with a generated key and self-signed certificate."""
    folder = tmp_path_factory.mktemp("softhsm")
    return Token(init_softhsm_token(folder, TOKEN, PIN, LABEL), folder)


def card(clock=None, pin: str = PIN) -> CardCredential:
    options = {"clock": clock} if clock else {}
    return CardCredential(
        module=MODULE,
        token_label=TOKEN,
        pin=pin,
        key_label=LABEL,
        billing_id="101234567",
        activity_sector="SA07",
        **options,
    )


@pytest.fixture(scope="session")
def signed(softhsm) -> bytes:
    credential = card()
    data = etree.tostring(credential.signed_assertion())
    credential.close()
    return data


def xmlsec_verify(data: bytes, cert_pem: str, folder: Path) -> subprocess.CompletedProcess:
    doc, cert = folder / "assertion.xml", folder / "card.pem"
    doc.write_bytes(data)
    cert.write_text(cert_pem)
    return subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--pubkey-cert-pem",
            str(cert),
            "--id-attr:ID",
            f"{SAML2}:Assertion",
            str(doc),
        ],
        capture_output=True,
        text=True,
    )


def test_the_card_signs_a_saml_assertion_signxml_accepts(signed, softhsm):
    result = XMLVerifier().verify(signed, x509_cert=softhsm.cert_pem)
    assertion = result.signed_xml
    assert assertion.tag == f"{{{SAML2}}}Assertion"
    name_id = assertion.find(f"{{{SAML2}}}Subject/{{{SAML2}}}NameID")
    assert name_id.text == "899700000042" and name_id.get("NameQualifier") == "CPS"
    assert "899700000042/JEAN DUPONT" in assertion.findtext(f"{{{SAML2}}}Issuer")
    values = {
        a.get("Name"): a.findtext(f"{{{SAML2}}}AttributeValue")
        for a in assertion.iter(f"{{{SAML2}}}Attribute")
    }
    assert values == {"identifiantFacturation": "101234567", "secteurActivite": "SA07"}
    conditions = assertion.find(f"{{{SAML2}}}Conditions")
    start = datetime.fromisoformat(conditions.get("NotBefore").replace("Z", "+00:00"))
    end = datetime.fromisoformat(conditions.get("NotOnOrAfter").replace("Z", "+00:00"))
    assert end - start == timedelta(hours=1)


def test_the_signature_uses_exclusive_c14n_rsa_sha256_and_carries_the_certificate(signed, softhsm):
    root = etree.fromstring(signed)
    info = root.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo")
    assert (
        info.find(f"{{{DS}}}CanonicalizationMethod").get("Algorithm")
        == "http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    assert info.find(f"{{{DS}}}SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    assert info.find(f"{{{DS}}}Reference").get("URI") == "#" + root.get("ID")
    embedded = root.findtext(f".//{{{DS}}}X509Certificate")
    assert embedded.replace("\n", "") in softhsm.cert_pem.replace("\n", "")


def test_xmlsec1_verifies_the_card_signature(signed, softhsm, tmp_path):
    result = xmlsec_verify(signed, softhsm.cert_pem, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout + result.stderr


def test_a_tampered_assertion_fails_both_verifiers(signed, softhsm, tmp_path):
    tampered = signed.replace(b">899700000042<", b">899700000043<")
    assert tampered != signed
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(tampered, x509_cert=softhsm.cert_pem)
    assert xmlsec_verify(tampered, softhsm.cert_pem, tmp_path).returncode != 0


def test_the_assertion_is_reused_until_near_expiry(softhsm):
    now = [datetime(2026, 11, 24, 12, 0, tzinfo=UTC)]
    credential = card(clock=lambda: now[0])
    first = etree.tostring(credential.assertions()[0])
    now[0] += timedelta(minutes=50)
    assert etree.tostring(credential.assertions()[0]) == first and credential.signatures == 1
    now[0] += timedelta(minutes=6)  # within the 5-minute renewal margin
    assert etree.tostring(credential.assertions()[0]) != first and credential.signatures == 2
    credential.close()


def test_a_wrong_pin_is_a_configuration_error(softhsm):
    with pytest.raises(InsiConfigurationError):
        card(pin="000000")


def test_card_search_over_server_auth_tls(softhsm, sim_tls, insi_pki, tmp_path, journal):
    settings = settings_for(
        sim_tls.url,
        insi_pki,
        credential_mode="card",
        card_token_label=TOKEN,
        card_pin=PIN,
        card_key_label=LABEL,
        card_module_path=MODULE,
        card_billing_id="101234567",
        card_activity_sector="SA07",
    )
    client = make_client(settings, tmp_path, journal)
    assert client.search_by_traits(ADRUN, CallContext("dr-dupont")).code is CrCode.FOUND
    assert client.search_by_traits(ADRUN, CallContext("dr-dupont")).code is CrCode.FOUND
    assert list(sim_tls.behaviour.client_cns) == [None, None]
    request = etree.fromstring(sim_tls.behaviour.received[-1])
    assert request_schema().validate(request)
    placed = request.find(".//{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    XMLVerifier().verify(etree.tostring(placed), x509_cert=softhsm.cert_pem)
    assert request.findtext(".//{urn:siram:lps:ctxlps}Emetteur") == "899700000042"
    assert [r.credential_mode.value for r in journal] == ["card", "card"]
    assert client.credentials.card.signatures == 1
    client.close()
