"""METADATA.XML of an XDM archive: an ebRIM 3.0 ``SubmitObjectsRequest`` (IHE ITI TF-3 §4.2, mssante.md).

One SubmissionSet, one DocumentEntry, the SubmissionSet classification and the HasMember
association; a replacement adds the RPLC association and the ``action`` slot (C), a deletion the
``action`` slot (D) on the entry of the document already sent. The patient is named by the INS
only when ``Patient.ins`` is set, which the domain allows for a QUAL identity only
(app.domain.mssante.patient_indexing); otherwise by the IPP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from app.domain.ins import Ins
from app.domain.mssante import Action
from app.domain.traits import Traits
from app.domain.xds import Author, Code, DocumentCodes, DocumentMetadata, Establishment
from app.integrations.hl7.er7 import escape
from app.integrations.mssante.ids import PackageIds, entry_uuid

LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
NSMAP = {"lcm": LCM, "rim": RIM, "rs": RS}

# IHE ITI TF-3 §4.2.5 UUIDs.
DOCUMENT_ENTRY_TYPE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_CLASS = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_EVENT = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
DE_FORMAT = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_FACILITY = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_TYPE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"
REGISTRY_PACKAGE_TYPE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"
RPPS_OID = "1.2.250.1.71.4.2.1"  # national health professional ids (IDNPS)
STRUCTURE_OID = "1.2.250.1.71.4.2.2"  # national structure ids (IDNST)


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient as a package names it: the IPP always, the INS only when the domain allowed it."""

    ipp: str
    ipp_oid: str
    traits: Traits
    ins: Ins | None


@dataclass(frozen=True, slots=True)
class DocumentFile:
    """The document file of the archive: its 8.3 name, MIME type, SHA-1 and size."""

    name: str
    mime_type: str
    sha1: str
    size: int


def utc(moment: datetime) -> datetime:
    """A moment in UTC; a naive one is taken as UTC already."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def dtm(moment: datetime) -> str:
    """An XDS DTM in UTC, to the second (YYYYMMDDHHMMSS)."""
    return utc(moment).strftime("%Y%m%d%H%M%S")


def ins_cx(ins: Ins) -> str:
    """The INS as a CX: matricule, assigning authority OID, type NH (mssante.md identifier annex)."""
    return f"{ins.matricule}^^^&{ins.oid}&ISO^NH"


def ipp_cx(ipp: str, oid: str) -> str:
    """The IPP as a CX under the establishment's OID, type PI."""
    return f"{escape(ipp)}^^^&{oid}&ISO^PI"


def patient_id(patient: Patient) -> str:
    """``patientId``: the INS for a QUAL identity, otherwise (exemption) the IPP."""
    return ins_cx(patient.ins) if patient.ins is not None else ipp_cx(patient.ipp, patient.ipp_oid)


def source_patient_info(patient: Patient) -> list[str]:
    """``sourcePatientInfo``: PID-3 (IPP), PID-5 (birth and used names), PID-7, PID-8, PID-11."""
    t = patient.traits
    values = [f"PID-3|{ipp_cx(patient.ipp, patient.ipp_oid)}",
              f"PID-5|{escape(t.birth_name)}^{escape(t.first_name)}^{escape(t.first_names)}^^^^L"]
    if t.used_name or t.used_first_name:
        values.append(f"PID-5|{escape(t.used_name or t.birth_name)}^{escape(t.used_first_name or '')}^^^^^D")
    values += [f"PID-7|{t.birth_date.strftime('%Y%m%d')}", f"PID-8|{t.sex.value}"]
    if t.birth_place_code:
        values.append(f"PID-11|^^^^^^BDL^^{t.birth_place_code}")
    return values


def author_person(author: Author) -> str | None:
    """authorPerson as an XCN, with the IDNPS (8 + RPPS) when known."""
    if not (author.family or author.given or author.rpps):
        return None
    family, given = escape(author.family or ""), escape(author.given or "")
    if author.rpps:
        return f"8{escape(author.rpps)}^{family}^{given}^^^^^^&{RPPS_OID}&ISO^D^^^IDNPS"
    return f"^{family}^{given}"


def author_institution(establishment: Establishment) -> str:
    """authorInstitution as an XON with the IDNST (1 + FINESS)."""
    return (f"{escape(establishment.name)}^^^^^&{STRUCTURE_OID}&ISO^IDNST^^^"
            f"1{escape(establishment.finess)}")


def _q(tag: str) -> str:
    return f"{{{RIM}}}{tag}"


def _slot(parent: etree._Element, name: str, *values: str) -> None:
    slot = etree.SubElement(parent, _q("Slot"), name=name)
    value_list = etree.SubElement(slot, _q("ValueList"))
    for value in values:
        etree.SubElement(value_list, _q("Value")).text = value


def _name(parent: etree._Element, text: str) -> None:
    etree.SubElement(etree.SubElement(parent, _q("Name")), _q("LocalizedString"), value=text)


def _code(parent: etree._Element, scheme: str, obj: str, ident: str, code: Code) -> None:
    element = etree.SubElement(parent, _q("Classification"), classificationScheme=scheme,
                               classifiedObject=obj, id=ident, nodeRepresentation=code.code)
    _slot(element, "codingScheme", code.scheme)
    _name(element, code.display)


def _external(parent: etree._Element, scheme: str, obj: str, ident: str, value: str, name: str) -> None:
    element = etree.SubElement(parent, _q("ExternalIdentifier"), identificationScheme=scheme,
                               registryObject=obj, id=ident, value=value)
    _name(element, name)


def _author(parent: etree._Element, scheme: str, obj: str, ident: str, author: Author,
            establishment: Establishment) -> None:
    element = etree.SubElement(parent, _q("Classification"), classificationScheme=scheme,
                               classifiedObject=obj, id=ident, nodeRepresentation="")
    person = author_person(author)
    if person:
        _slot(element, "authorPerson", person)
    _slot(element, "authorInstitution", author_institution(establishment))
    if author.specialty:
        s = author.specialty
        _slot(element, "authorSpecialty", f"{escape(s.code)}^{escape(s.display)}^{escape(s.scheme)}")


@dataclass(frozen=True, slots=True)
class Submission:
    """Everything METADATA.XML says."""

    patient: Patient
    metadata: DocumentMetadata
    codes: DocumentCodes
    establishment: Establishment
    file: DocumentFile
    ids: PackageIds
    submitted_at: datetime
    cda: bool


def document_unique_id(submission: Submission) -> str:
    """The entry's uniqueId: a new one, or the deleted document's own (action D)."""
    m = submission.metadata
    if m.action is Action.DELETE and m.previous_unique_id:
        return m.previous_unique_id
    return submission.ids.document


def build_metadata(s: Submission) -> bytes:
    """The METADATA.XML bytes (UTF-8, with XML declaration)."""
    root = etree.Element(f"{{{LCM}}}SubmitObjectsRequest", nsmap=NSMAP)
    objects = etree.SubElement(root, _q("RegistryObjectList"))
    m, ids, pid = s.metadata, s.ids, patient_id(s.patient)
    unique = document_unique_id(s)
    doc = entry_uuid(unique) if m.action is Action.DELETE else ids.document_entry
    entry = etree.SubElement(objects, _q("ExtrinsicObject"), id=doc, mimeType=s.file.mime_type,
                             objectType=DOCUMENT_ENTRY_TYPE, status=APPROVED)
    _slot(entry, "creationTime", dtm(m.created_at))
    _slot(entry, "languageCode", m.language)
    if m.service_start_at:
        _slot(entry, "serviceStartTime", dtm(m.service_start_at))
    if m.service_stop_at:
        _slot(entry, "serviceStopTime", dtm(m.service_stop_at))
    _slot(entry, "sourcePatientId", ipp_cx(s.patient.ipp, s.patient.ipp_oid))
    _slot(entry, "sourcePatientInfo", *source_patient_info(s.patient))
    _slot(entry, "hash", s.file.sha1)
    _slot(entry, "size", str(s.file.size))
    _slot(entry, "URI", s.file.name)
    if m.action is not Action.SEND:
        _slot(entry, "action", m.action.value)
    _name(entry, m.title)
    c = s.codes
    _author(entry, DE_AUTHOR, doc, ids.local("de-author"), m.author, s.establishment)
    _code(entry, DE_CLASS, doc, ids.local("class"), c.class_)
    _code(entry, DE_CONFIDENTIALITY, doc, ids.local("confidentiality"), c.confidentiality)
    for index, event in enumerate(c.events):
        _code(entry, DE_EVENT, doc, ids.local(f"event-{index}"), event)
    _code(entry, DE_FORMAT, doc, ids.local("format"), c.format_for(cda=s.cda))
    _code(entry, DE_FACILITY, doc, ids.local("facility"), c.facility_type)
    _code(entry, DE_PRACTICE, doc, ids.local("practice"), c.practice_setting)
    _code(entry, DE_TYPE, doc, ids.local("type"), c.type)
    _external(entry, DE_PATIENT_ID, doc, ids.local("de-patient"), pid, "XDSDocumentEntry.patientId")
    _external(entry, DE_UNIQUE_ID, doc, ids.local("de-unique"), unique, "XDSDocumentEntry.uniqueId")

    ss = ids.submission_entry
    package = etree.SubElement(objects, _q("RegistryPackage"), id=ss, objectType=REGISTRY_PACKAGE_TYPE)
    _slot(package, "submissionTime", dtm(s.submitted_at))
    _name(package, m.title)
    _author(package, SS_AUTHOR, ss, ids.local("ss-author"), m.author, s.establishment)
    _code(package, SS_CONTENT_TYPE, ss, ids.local("content-type"), c.content_type or c.type)
    _external(package, SS_UNIQUE_ID, ss, ids.local("ss-unique"), ids.submission_set,
              "XDSSubmissionSet.uniqueId")
    _external(package, SS_SOURCE_ID, ss, ids.local("ss-source"), s.establishment.source_oid,
              "XDSSubmissionSet.sourceId")
    _external(package, SS_PATIENT_ID, ss, ids.local("ss-patient"), pid, "XDSSubmissionSet.patientId")
    etree.SubElement(objects, _q("Classification"), classifiedObject=ss,
                     classificationNode=SUBMISSION_SET_NODE, id=ids.local("ss-node"))
    member = etree.SubElement(objects, _q("Association"), associationType=HAS_MEMBER, sourceObject=ss,
                              targetObject=doc, id=ids.local("has-member"))
    _slot(member, "SubmissionSetStatus", "Original")
    if m.action is Action.REPLACE and m.previous_unique_id:
        etree.SubElement(objects, _q("Association"), associationType=RPLC, sourceObject=doc,
                         targetObject=entry_uuid(m.previous_unique_id), id=ids.local("rplc"))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
