"""The four SOAP headers of every INSi request (insi.md "SOAP headers")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from app.domain.insi import InsiOperation, Matricule, VitaleQuery
from app.integrations.insi.ns import ACTIONS, CTXBAM, CTXLPS, WSA, WSSE


@dataclass(frozen=True, slots=True)
class Software:
    """The LPS block: IDAM (CNDA authorisation number), version, installation instance, name."""

    idam: str
    version: str
    instance: str
    name: str

    @property
    def urn(self) -> str:
        """The LPS/Nom value, urn:lps:<name>:<version>."""
        return f"urn:lps:{self.name}:{self.version}"


def new_message_id() -> str:
    """A WS-Addressing MessageID as INSi expects it: uuid:<uuid4>."""
    return f"uuid:{uuid.uuid4()}"


def new_context_id() -> str:
    """The Id of a ContexteLPS / ContexteBAM block."""
    return str(uuid.uuid4())


def timestamp(now: datetime) -> str:
    """The Temps of a context block: UTC, milliseconds, trailing Z."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        element.text = text
    return element


def contexte_lps(software: Software, emitter: str, temps: str, ident: str) -> etree._Element:
    """ContexteLPS: Id, Temps, Emetteur and the LPS identification."""
    root = etree.Element(
        f"{{{CTXLPS}}}ContexteLPS", nsmap={"ctxlps": CTXLPS}, Nature="CTXLPS", Version="01_00"
    )
    _sub(root, CTXLPS, "Id", ident)
    _sub(root, CTXLPS, "Temps", temps)
    _sub(root, CTXLPS, "Emetteur", emitter)
    lps = _sub(root, CTXLPS, "LPS")
    _sub(lps, CTXLPS, "IDAM", software.idam).set("R", "4")
    _sub(lps, CTXLPS, "Version", software.version)
    _sub(lps, CTXLPS, "Instance", software.instance)
    _sub(lps, CTXLPS, "Nom", software.urn)
    return root


def _porteur(parent: etree._Element, name: str, matricule: Matricule) -> etree._Element:
    block = _sub(parent, CTXBAM, name)
    _sub(block, CTXBAM, "NumIdentifiant", matricule.number)
    _sub(block, CTXBAM, "Cle", matricule.key)
    return block


def contexte_bam(
    emitter: str, temps: str, ident: str, vitale: VitaleQuery | None = None
) -> etree._Element:
    """ContexteBAM: COUVERTURE is required and empty for a traits search, card data otherwise."""
    root = etree.Element(
        f"{{{CTXBAM}}}ContexteBAM", nsmap={"ctxbam": CTXBAM}, Nature="CTXBAM", Version="01_02"
    )
    _sub(root, CTXBAM, "Id", ident)
    _sub(root, CTXBAM, "Temps", temps)
    _sub(root, CTXBAM, "Emetteur", emitter)
    couverture = _sub(root, CTXBAM, "COUVERTURE")
    if vitale is not None:
        _porteur(couverture, "ASSURE", vitale.insured)
        beneficiary = _porteur(couverture, "BENEFICIAIRE", vitale.beneficiary or vitale.insured)
        _sub(beneficiary, CTXBAM, "NomNaissance", vitale.birth_name)
        _sub(beneficiary, CTXBAM, "DateNaissance", vitale.birth_date)
        _sub(beneficiary, CTXBAM, "RangNaissance", str(vitale.birth_rank))
    return root


def addressing(operation: InsiOperation, message_id: str, to: str | None = None) -> list[etree._Element]:
    """WS-Addressing Action and MessageID (and To, tolerated by the server)."""
    action = etree.Element(f"{{{WSA}}}Action", nsmap={"wsa": WSA})
    action.text = ACTIONS[operation]
    mid = etree.Element(f"{{{WSA}}}MessageID", nsmap={"wsa": WSA})
    mid.text = message_id
    elements = [action, mid]
    if to:
        target = etree.Element(f"{{{WSA}}}To", nsmap={"wsa": WSA})
        target.text = to
        elements.append(target)
    return elements


def security(assertions: Sequence[etree._Element]) -> etree._Element | None:
    """wsse:Security holding the signed assertions, inserted as elements (never rebuilt)."""
    if not assertions:
        return None
    root = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE})
    for assertion in assertions:
        root.append(assertion)
    return root


def install_headers(envelope: etree._Element, soap_ns: str, headers: Sequence[etree._Element]) -> None:
    """Put the headers in the envelope's Header, creating it first if zeep left it out."""
    header = envelope.find(f"{{{soap_ns}}}Header")
    if header is None:
        header = etree.Element(f"{{{soap_ns}}}Header")
        envelope.insert(0, header)
    for element in headers:
        header.append(element)
