"""Read an IHE_XDM.ZIP back: patient ids, traits, codes, and the document checked against its hash and size.

Used by the tests and, later, by the receipt handling. Hostile archives are refused with
``XdmInvalid``: too many or too large entries (a zip bomb), names outside the XDM layout, XML
with entities or a DTD, a document whose SHA-1 or size differs from the metadata.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass, field

from lxml import etree

from app.domain.errors import DomainError
from app.domain.messages import register, register_terms
from app.integrations.mssante import metadata as md
from app.integrations.mssante.cda import V3
from app.integrations.mssante.xdm import METADATA, SUBSET

MAX_ENTRIES = 64
MAX_ENTRY_BYTES = 64 * 1024 * 1024

register("xdm-invalid", "The IHE XDM archive is unusable: {reason}.",
         "L'archive IHE XDM est inutilisable : {reason}.")
register_terms({
    "not a zip file": "ce n'est pas un fichier zip",
    "too many entries": "trop de fichiers",
    "entry too large": "fichier trop volumineux",
    "METADATA.XML missing": "METADATA.XML absent",
    "METADATA.XML unreadable": "METADATA.XML illisible",
    "no DocumentEntry": "aucune fiche de document (DocumentEntry)",
    "document file missing": "fichier du document absent",
    "hash differs from the metadata": "l'empreinte diffère des métadonnées",
    "size differs from the metadata": "la taille diffère des métadonnées",
    "CDA unreadable": "document CDA illisible",
}, parameter="reason")


class XdmInvalid(DomainError):
    """An XDM archive that cannot be read or does not match its own metadata."""

    code = "xdm-invalid"


@dataclass(frozen=True, slots=True)
class ReadCode:
    """A code as read: code, coding scheme, display name."""

    code: str
    scheme: str
    display: str


@dataclass(frozen=True, slots=True)
class ReadTraits:
    """The traits of ``sourcePatientInfo`` (PID-5 L and D, PID-7, PID-8, PID-11), unescaped."""

    birth_name: str = ""
    first_name: str = ""
    first_names: str = ""
    used_name: str = ""
    used_first_name: str = ""
    birth_date: str = ""  # YYYYMMDD
    sex: str = ""
    birth_place_code: str = ""


_UNESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", "X0D": "\r", "X0A": "\n"}


def unescape(value: str) -> str:
    """The HL7 v2 delimiters escaped in a value, restored (HL7 v2.5 §2.7.4)."""
    parts = value.split("\\")
    if len(parts) % 2 == 0:
        raise XdmInvalid(reason="METADATA.XML unreadable")
    return parts[0] + "".join(_UNESCAPES.get(parts[i], "") + parts[i + 1] for i in range(1, len(parts), 2))


def traits_of(info: tuple[str, ...]) -> ReadTraits:
    """Read the traits back from ``sourcePatientInfo`` values."""
    found: dict[str, str] = {}
    for value in info:
        field_name, _, data = value.partition("|")
        parts = data.split("^")
        if field_name == "PID-5" and parts[-1] == "L":
            found.update(birth_name=unescape(parts[0]), first_name=unescape(parts[1]),
                         first_names=unescape(parts[2]))
        elif field_name == "PID-5" and parts[-1] == "D":
            found.update(used_name=unescape(parts[0]), used_first_name=unescape(parts[1]))
        elif field_name == "PID-7":
            found["birth_date"] = data
        elif field_name == "PID-8":
            found["sex"] = data
        elif field_name == "PID-11" and len(parts) >= 9:
            found["birth_place_code"] = parts[8]
    return ReadTraits(**found)


@dataclass(frozen=True, slots=True)
class ReadEntry:
    """One DocumentEntry read back, with its document file."""

    unique_id: str
    patient_id: str
    source_patient_id: str
    source_patient_info: tuple[str, ...]
    mime_type: str
    hash: str
    size: int
    uri: str
    title: str
    creation_time: str
    action: str | None
    codes: dict[str, tuple[ReadCode, ...]]
    author_person: str | None
    author_institution: str | None
    document: bytes
    pdf: bytes  # the PDF itself (unwrapped from the CDA when there is one)
    cda_ids: tuple[tuple[str, str], ...] = ()  # (root, extension) of the CDA patientRole ids
    cda_traits: ReadTraits | None = None  # the traits of the CDA header, when there is one

    @property
    def traits(self) -> ReadTraits:
        """The patient's traits as the metadata gives them."""
        return traits_of(self.source_patient_info)


@dataclass(frozen=True, slots=True)
class ReadArchive:
    """An XDM archive read back."""

    names: tuple[str, ...]
    submission_set_id: str
    source_id: str
    submission_patient_id: str
    entries: tuple[ReadEntry, ...]
    associations: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)  # type, source, target

    @property
    def entry(self) -> ReadEntry:
        """The only (first) DocumentEntry."""
        return self.entries[0]


_CODE_SCHEMES = {
    md.DE_CLASS: "class", md.DE_CONFIDENTIALITY: "confidentiality", md.DE_EVENT: "event",
    md.DE_FORMAT: "format", md.DE_FACILITY: "facility_type", md.DE_PRACTICE: "practice_setting",
    md.DE_TYPE: "type",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_NS = {"rim": md.RIM, "lcm": md.LCM, "v3": V3}


def _xml(data: bytes, what: str) -> etree._Element:
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise XdmInvalid(reason=what)
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        raise XdmInvalid(reason=what) from None


def _slots(element: etree._Element) -> dict[str, list[str]]:
    return {slot.get("name"): [v.text or "" for v in slot.iterfind("rim:ValueList/rim:Value", _NS)]
            for slot in element.iterfind("rim:Slot", _NS)}


def _one(values: dict[str, list[str]], name: str) -> str:
    return (values.get(name) or [""])[0]


def _name(element: etree._Element) -> str:
    found = element.find("rim:Name/rim:LocalizedString", _NS)
    return found.get("value", "") if found is not None else ""


def _external(element: etree._Element, scheme: str) -> str:
    found = element.find(f"rim:ExternalIdentifier[@identificationScheme='{scheme}']", _NS)
    return found.get("value", "") if found is not None else ""


def _files(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise XdmInvalid(reason="too many entries")
        if any(info.file_size > MAX_ENTRY_BYTES for info in infos):
            raise XdmInvalid(reason="entry too large")
        return {info.filename: archive.read(info) for info in infos if not info.is_dir()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise XdmInvalid(reason="not a zip file") from None


def read_xdm(data: bytes) -> ReadArchive:
    """Parse an archive, check each document against its hash and size, unwrap CDA bodies."""
    files = _files(data)
    if METADATA not in files:
        raise XdmInvalid(reason="METADATA.XML missing")
    root = _xml(files[METADATA], "METADATA.XML unreadable")
    entries = tuple(_entry(e, files) for e in root.iterfind(".//rim:ExtrinsicObject", _NS))
    if not entries:
        raise XdmInvalid(reason="no DocumentEntry")
    package = root.find(".//rim:RegistryPackage", _NS)
    associations = tuple(
        (a.get("associationType", ""), a.get("sourceObject", ""), a.get("targetObject", ""))
        for a in root.iterfind(".//rim:Association", _NS))
    return ReadArchive(
        names=tuple(zipfile.ZipFile(io.BytesIO(data)).namelist()),
        submission_set_id=_external(package, md.SS_UNIQUE_ID) if package is not None else "",
        source_id=_external(package, md.SS_SOURCE_ID) if package is not None else "",
        submission_patient_id=_external(package, md.SS_PATIENT_ID) if package is not None else "",
        entries=entries,
        associations=associations,
    )


def _entry(element: etree._Element, files: dict[str, bytes]) -> ReadEntry:
    slots = _slots(element)
    uri = _one(slots, "URI")
    document = files.get(SUBSET + uri)
    if not uri or document is None:
        raise XdmInvalid(reason="document file missing")
    if hashlib.sha1(document).hexdigest() != _one(slots, "hash").lower():  # noqa: S324 - XDS hash
        raise XdmInvalid(reason="hash differs from the metadata")
    if str(len(document)) != _one(slots, "size"):
        raise XdmInvalid(reason="size differs from the metadata")
    codes: dict[str, list[ReadCode]] = {}
    person = institution = None
    for c in element.iterfind("rim:Classification", _NS):
        scheme = c.get("classificationScheme", "")
        if scheme == md.DE_AUTHOR:
            author = _slots(c)
            person = _one(author, "authorPerson") or None
            institution = _one(author, "authorInstitution") or None
        elif scheme in _CODE_SCHEMES:
            read = ReadCode(c.get("nodeRepresentation", ""), _one(_slots(c), "codingScheme"), _name(c))
            codes.setdefault(_CODE_SCHEMES[scheme], []).append(read)
    mime = element.get("mimeType", "")
    pdf, cda_ids, cda_traits = (document, (), None) if mime == "application/pdf" else _unwrap(document)
    return ReadEntry(
        unique_id=_external(element, md.DE_UNIQUE_ID), patient_id=_external(element, md.DE_PATIENT_ID),
        source_patient_id=_one(slots, "sourcePatientId"),
        source_patient_info=tuple(slots.get("sourcePatientInfo", [])), mime_type=mime,
        hash=_one(slots, "hash"), size=int(_one(slots, "size")), uri=uri, title=_name(element),
        creation_time=_one(slots, "creationTime"), action=_one(slots, "action") or None,
        codes={k: tuple(v) for k, v in codes.items()}, author_person=person,
        author_institution=institution, document=document, pdf=pdf, cda_ids=cda_ids,
        cda_traits=cda_traits,
    )


def _unwrap(document: bytes) -> tuple[bytes, tuple[tuple[str, str], ...], ReadTraits]:
    """The PDF of a CDA R2 level 1 document, its patientRole ids and the patient's traits."""
    root = _xml(document, "CDA unreadable")
    text = root.find("v3:component/v3:nonXMLBody/v3:text", _NS)
    if text is None or text.get("representation") != "B64":
        raise XdmInvalid(reason="CDA unreadable")
    try:
        pdf = base64.b64decode("".join((text.text or "").split()), validate=True)
    except ValueError:
        raise XdmInvalid(reason="CDA unreadable") from None
    ids = tuple((i.get("root", ""), i.get("extension", ""))
                for i in root.iterfind("v3:recordTarget/v3:patientRole/v3:id", _NS))
    return pdf, ids, _cda_traits(root)


def _cda_traits(root: etree._Element) -> ReadTraits:
    patient = root.find("v3:recordTarget/v3:patientRole/v3:patient", _NS)
    if patient is None:
        return ReadTraits()

    def text(path: str) -> str:
        found = patient.find(path, _NS)
        return (found.text or "") if found is not None else ""

    def attribute(path: str, name: str) -> str:
        found = patient.find(path, _NS)
        return found.get(name, "") if found is not None else ""

    return ReadTraits(
        birth_name=text("v3:name/v3:family[@qualifier='BR']"),
        first_name=text("v3:name/v3:given[@qualifier='BR']"),
        first_names=next((g.text or "" for g in patient.iterfind("v3:name/v3:given", _NS)
                          if g.get("qualifier") is None), ""),
        used_name=text("v3:name/v3:family[@qualifier='CL']"),
        birth_date=attribute("v3:birthTime", "value"),
        sex=attribute("v3:administrativeGenderCode", "code"),
        birth_place_code=text("v3:birthplace/v3:place/v3:addr/v3:county"),
    )
