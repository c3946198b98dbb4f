"""Namespaces and names of the INSi contract (insi.md)."""

from __future__ import annotations

from app.domain.insi import InsiOperation

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
CTXLPS = "urn:siram:lps:ctxlps"
CTXBAM = "urn:siram:bam:ctxbam"
SIRAM = "urn:siram"
REC_SANS = "http://www.cnamts.fr/INSiRecSans"
REC_VIT = "http://www.cnamts.fr/INSiRecVit"
RESULTAT = "http://www.cnamts.fr/INSiResultat"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"

SERVICE = "ICIR-v1"
PORT = "ICIRServicePort"
ACTION_PREFIX = "urn:ServiceIdentiteCertifiee:1.0.0:"

ACTIONS: dict[InsiOperation, str] = {
    InsiOperation.TRAITS: ACTION_PREFIX + InsiOperation.TRAITS.value,
    InsiOperation.VITALE: ACTION_PREFIX + InsiOperation.VITALE.value,
}
