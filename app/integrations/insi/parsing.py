"""Reading INSi answers by namespace, never by prefix (insi.md "Response" and "Faults").

The real server's envelopes are irregular (two prefixes for the SOAP 1.2 namespace, default
namespaces, unused declarations, empty Header): every lookup here is by namespace URI and local
name. Children of RESULTAT are looked up in the RESULTAT namespace, and, tolerating a server that
forgets elementFormDefault, without a namespace.

Answers are parsed by the standard library's expat parser rather than lxml: lxml lets go of the
interpreter lock while it parses, and a calling thread then has to win the lock back from the
others; with many concurrent calls that wait is longer than the parse (benchmarked in
docs/performance.md). A DTD is refused outright (INSi never sends one), so no entity is declared
and none can be expanded.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from app.domain.insi import (
    CrCode,
    InsEntry,
    InsiAnswer,
    InsiConfigurationError,
    InsiError,
    InsiTechnicalError,
    InsiUnavailable,
    Matricule,
    ReturnedTraits,
)
from app.integrations.insi.faults import error_from_fault
from app.integrations.insi.ns import RESULTAT, SIRAM, SOAP12
from app.integrations.insi.transport import RawResponse

Element = ET.Element


def _child(parent: Element, name: str, ns: str = RESULTAT) -> Element | None:
    found = parent.find(f"{{{ns}}}{name}")
    return found if found is not None else parent.find(name)


def _children(parent: Element, name: str, ns: str = RESULTAT) -> list[Element]:
    return list(parent.findall(f"{{{ns}}}{name}")) + list(parent.findall(name))


def _text(parent: Element, name: str, ns: str = RESULTAT) -> str | None:
    element = _child(parent, name, ns)
    if element is None or element.text is None:
        return None
    return str(element.text).strip()


def _required(parent: Element, name: str, message_id: str) -> str:
    value = _text(parent, name)
    if not value:
        raise InsiTechnicalError(detail="answer without {element}", element=name, message_id=message_id)
    return value


def parse_envelope(content: bytes, message_id: str) -> Element:
    """The SOAP 1.2 Body of an answer, or a technical error when it is not one."""
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise InsiTechnicalError(detail="answer with a DTD (refused)", message_id=message_id)
    try:
        root = ET.fromstring(content)  # noqa: S314 - no DTD (refused above): no entity can exist
    except ET.ParseError as exc:
        raise InsiTechnicalError(detail="answer is not XML", message_id=message_id) from exc
    if root.tag != f"{{{SOAP12}}}Envelope":
        raise InsiTechnicalError(detail="answer is not a SOAP 1.2 envelope", message_id=message_id)
    body = root.find(f"{{{SOAP12}}}Body")
    if body is None:
        raise InsiTechnicalError(detail="SOAP envelope without Body", message_id=message_id)
    return body


def parse_response(raw: RawResponse, message_id: str) -> InsiAnswer:
    """Turn an HTTP answer into an InsiAnswer, or raise the typed error it stands for."""
    if not raw.content.strip():
        raise _http_error(raw.status_code, message_id)
    try:
        body = parse_envelope(raw.content, message_id)
    except InsiTechnicalError:
        if raw.status_code >= 400:
            raise _http_error(raw.status_code, message_id) from None
        raise
    fault = body.find(f"{{{SOAP12}}}Fault")
    if fault is not None:
        raise parse_fault(fault, message_id)
    if raw.status_code >= 400:
        raise _http_error(raw.status_code, message_id)
    resultat = next(body.iter(f"{{{RESULTAT}}}RESULTAT"), None)
    if resultat is None:
        raise InsiTechnicalError(detail="answer without RESULTAT", message_id=message_id)
    return parse_resultat(resultat, message_id)


def _http_error(status: int, message_id: str) -> InsiError:
    if status in (502, 503, 504):
        return InsiUnavailable(detail=f"HTTP {status}", message_id=message_id)
    if status in (401, 403, 404, 405, 415):
        return InsiConfigurationError(detail=f"HTTP {status}", message_id=message_id)
    return InsiTechnicalError(detail=f"HTTP {status}", message_id=message_id)


def parse_resultat(resultat: Element, message_id: str) -> InsiAnswer:
    """Read CR, INSACTIF, INSHISTO (always a list) and TIQ."""
    cr = _child(resultat, "CR")
    if cr is None:
        raise InsiTechnicalError(detail="answer without CR", message_id=message_id)
    raw_code = _required(cr, "CodeCR", message_id)
    try:
        code = CrCode(raw_code)
    except ValueError:
        raise InsiTechnicalError(detail="unknown CodeCR {cr_code}", cr_code=raw_code[:4],
                                 message_id=message_id) from None
    label = _text(cr, "LibelleCR") or ""
    individu = _child(resultat, "INDIVIDU")
    if code is not CrCode.FOUND:
        return InsiAnswer(code, label, message_id)
    if individu is None:
        raise InsiTechnicalError(detail="CodeCR 00 without INDIVIDU", message_id=message_id)
    active = _child(individu, "INSACTIF")
    tiq = _child(individu, "TIQ")
    if active is None or tiq is None:
        raise InsiTechnicalError(detail="INDIVIDU without INSACTIF or TIQ", message_id=message_id)
    return InsiAnswer(
        code,
        label,
        message_id,
        active=parse_ins(active, message_id),
        history=tuple(parse_ins(h, message_id) for h in _children(individu, "INSHISTO")),
        traits=parse_tiq(tiq, message_id),
    )


def parse_ins(element: Element, message_id: str) -> InsEntry:
    """One INSACTIF / INSHISTO; dates kept as sent (they may be odd)."""
    ident = _child(element, "IdIndividu")
    if ident is None:
        raise InsiTechnicalError(detail="INS without IdIndividu", message_id=message_id)
    matricule = Matricule(
        _required(ident, "NumIdentifiant", message_id),
        _required(ident, "Cle", message_id),
        _text(ident, "TypeMatricule"),
    )
    return InsEntry(
        matricule,
        _required(element, "OID", message_id),
        start=_text(element, "DateDeb"),
        end=_text(element, "DateFin"),
    )


def parse_tiq(tiq: Element, message_id: str) -> ReturnedTraits:
    """The traits as returned; the first birth first name is the first word of ListePrenom."""
    return ReturnedTraits(
        birth_name=_required(tiq, "NomNaissance", message_id),
        first_names=_required(tiq, "ListePrenom", message_id),
        sex=_required(tiq, "Sexe", message_id),
        birth_date=_required(tiq, "DateNaissance", message_id),
        birth_place_code=_text(tiq, "LieuNaissance"),
        first_name=_text(tiq, "Prenom"),
    )


def parse_fault(fault: Element, message_id: str) -> InsiError:
    """A SOAP 1.2 Fault: Code/Value, Code/Subcode/Value, Reason/Text, Detail/siram:Erreur."""
    code = fault.find(f"{{{SOAP12}}}Code")
    value = _qname_local(code.find(f"{{{SOAP12}}}Value")) if code is not None else None
    sub = code.find(f"{{{SOAP12}}}Subcode/{{{SOAP12}}}Value") if code is not None else None
    subcode = _qname_local(sub)
    reason = fault.find(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text")
    erreur = next(fault.iter(f"{{{SIRAM}}}Erreur"), None)
    detail_code = erreur.get("code") if erreur is not None else None
    echoed = erreur.get("messageID") if erreur is not None else None
    return error_from_fault(
        soap_code=value,
        subcode=subcode,
        detail_code=detail_code,
        reason=(reason.text or "").strip() if reason is not None else "",
        message_id=echoed or message_id,
    )


def _qname_local(element: Element | None) -> str | None:
    """The local part of a QName text (siram_40 from "siram:siram_40")."""
    if element is None or not element.text:
        return None
    return str(element.text).strip().rsplit(":", 1)[-1]
