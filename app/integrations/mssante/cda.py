"""A CDA R2 level 1 document wrapping a PDF (mssante.md: CDA header with the INS).

``recordTarget/patientRole/id``: the INS first (root = its OID, extension = matricule) and only
when ``Patient.ins`` is set (a QUAL identity), then the IPP. The name carries the birth name
(``family qualifier="BR"``), all birth first names (``given``), the first birth first name
(``given qualifier="BR"``) and the used name (``family qualifier="CL"``, the birth name when there
is no other); then sex, birth date, and the birth place INSEE code in
``birthplace/place/addr/county``. The body is ``nonXMLBody/text`` in base64.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from app.domain.mssante import Action
from app.domain.xds import DocumentCodes, DocumentMetadata, Establishment
from app.integrations.mssante.metadata import RPPS_OID, STRUCTURE_OID, Patient, dtm

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GENDER = "2.16.840.1.113883.5.1"
TEMPLATES = (
    "2.16.840.1.113883.2.8.2.1",  # HL7 France CDA header
    "1.2.250.1.213.1.1.1.1",  # CI-SIS: document CDA conforming to the CI-SIS
)


def _v(tag: str) -> str:
    return f"{{{V3}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _v(tag), **attributes)
    if text is not None:
        element.text = text
    return element


@dataclass(frozen=True, slots=True)
class CdaDocument:
    """What the CDA header says beyond the patient."""

    unique_id: str
    metadata: DocumentMetadata
    codes: DocumentCodes
    establishment: Establishment
    effective_at: datetime


def _record_target(parent: etree._Element, patient: Patient) -> None:
    role = _sub(_sub(parent, "recordTarget"), "patientRole")
    if patient.ins is not None:
        _sub(role, "id", root=patient.ins.oid, extension=patient.ins.matricule)
    _sub(role, "id", root=patient.ipp_oid, extension=patient.ipp)
    person = _sub(role, "patient")
    t = patient.traits
    name = _sub(person, "name")
    _sub(name, "family", t.birth_name, qualifier="BR")
    _sub(name, "given", t.first_names)
    _sub(name, "given", t.first_name, qualifier="BR")
    _sub(name, "family", t.used_name or t.birth_name, qualifier="CL")
    _sub(person, "administrativeGenderCode", code=t.sex.value, codeSystem=GENDER)
    _sub(person, "birthTime", value=t.birth_date.strftime("%Y%m%d"))
    county = _sub(_sub(_sub(_sub(person, "birthplace"), "place"), "addr"), "county")
    if t.birth_place_code:
        county.text = t.birth_place_code
    else:
        county.set("nullFlavor", "UNK")


def _author(parent: etree._Element, doc: CdaDocument) -> None:
    author = _sub(parent, "author")
    _sub(author, "time", value=dtm(doc.metadata.created_at))
    assigned = _sub(author, "assignedAuthor")
    a = doc.metadata.author
    if a.rpps:
        _sub(assigned, "id", root=RPPS_OID, extension="8" + a.rpps)
    else:
        _sub(assigned, "id", nullFlavor="UNK")
    if a.family or a.given:
        name = _sub(_sub(assigned, "assignedPerson"), "name")
        if a.family:
            _sub(name, "family", a.family)
        if a.given:
            _sub(name, "given", a.given)
    _organisation(assigned, "representedOrganization", doc.establishment)


def _organisation(parent: etree._Element, tag: str, establishment: Establishment) -> None:
    organisation = _sub(parent, tag)
    _sub(organisation, "id", root=STRUCTURE_OID, extension="1" + establishment.finess)
    _sub(organisation, "name", establishment.name)


def build_cda(doc: CdaDocument, patient: Patient, pdf: bytes) -> bytes:
    """The CDA R2 level 1 document carrying ``pdf`` (UTF-8 bytes)."""
    root = etree.Element(_v("ClinicalDocument"), nsmap={None: V3, "xsi": XSI})
    m = doc.metadata
    _sub(root, "realmCode", code="FR")
    _sub(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for template in TEMPLATES:
        _sub(root, "templateId", root=template)
    _sub(root, "id", root=doc.unique_id)
    t = doc.codes.type
    _sub(root, "code", code=t.code, codeSystem=t.scheme, displayName=t.display)
    _sub(root, "title", m.title)
    _sub(root, "effectiveTime", value=dtm(doc.effective_at))
    c = doc.codes.confidentiality
    _sub(root, "confidentialityCode", code=c.code, codeSystem=c.scheme, displayName=c.display)
    _sub(root, "languageCode", code=m.language)
    _sub(root, "setId", root=m.set_id or m.previous_unique_id or doc.unique_id)
    _sub(root, "versionNumber", value=str(m.version))
    _record_target(root, patient)
    _author(root, doc)
    custodian = _sub(_sub(root, "custodian"), "assignedCustodian")
    _organisation(custodian, "representedCustodianOrganization", doc.establishment)
    if m.action is Action.REPLACE and m.previous_unique_id:
        related = _sub(root, "relatedDocument", typeCode="RPLC")
        _sub(_sub(related, "parentDocument"), "id", root=m.previous_unique_id)
    body = _sub(_sub(root, "component"), "nonXMLBody")
    _sub(body, "text", base64.b64encode(pdf).decode("ascii"), mediaType="application/pdf",
         representation="B64")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
