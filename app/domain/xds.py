"""XDS document metadata values for MSSanté sending: codes, authors, the document described.

The codes of a DocumentEntry (mssante.md, "What a sent mail contains") come from a table keyed by
document kind. The defaults below are the usual French values (LOINC type codes, CI-SIS class,
format, practice setting and facility type codes); each establishment checks them against the
ANS terminologies in force and overrides them in settings (``IDENTITO_MSSANTE__DOCUMENT_KINDS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from app.domain.errors import InvalidTrait
from app.domain.messages import register, register_terms
from app.domain.mssante import Action

LOINC = "2.16.840.1.113883.6.1"
CONFIDENTIALITY = "2.16.840.1.113883.5.25"
CLASS_CISIS = "1.2.250.1.213.1.1.4.1"  # JDV_J07 XdsClassCode CI-SIS
FORMAT_IHE = "1.3.6.1.4.1.19376.1.2.3"  # IHE format codes
PRACTICE_SETTING = "1.2.250.1.213.1.1.4.9"  # JDV_J04 XdsPracticeSettingCode CI-SIS
FACILITY_TYPE = "1.2.250.1.71.4.2.4"  # TRE_R02 SecteurActivite
FORMAT_PDF_ONLY = "urn:ihe:iti:xds:2017:mimeTypeSufficient"
FORMAT_CDA_PDF = "urn:ihe:iti:xds-sd:pdf:2008"
MAX_TEXT = 250

register(
    "mss-document-kind-unknown",
    "Unknown document kind {value}: use one of {valid}.",
    "Type de document inconnu {value} : utilisez l'un de {valid}.",
)
register(
    "mss-text-invalid",
    "{what} is empty, too long (over {max} characters) or holds control characters.",
    "{what} est vide, trop long (plus de {max} caractères) ou contient des caractères de contrôle.",
)
register(
    "mss-previous-required",
    "Replacing or deleting a document needs the unique id of the document already sent.",
    "Remplacer ou supprimer un document nécessite l'identifiant unique du document déjà envoyé.",
)
register_terms({
    "title": "le titre du document",
    "author family name": "le nom de l'auteur",
    "author given name": "le prénom de l'auteur",
}, parameter="what")


@dataclass(frozen=True, slots=True)
class Code:
    """A coded value: code, code system OID, display name."""

    code: str
    scheme: str
    display: str


@dataclass(frozen=True, slots=True)
class DocumentCodes:
    """The codes of one document kind (XDS DocumentEntry and SubmissionSet)."""

    type: Code
    class_: Code
    practice_setting: Code = Code("ETABLISSEMENT", PRACTICE_SETTING, "Etablissement de santé")
    facility_type: Code = Code("SA01", FACILITY_TYPE, "Etablissement Public de santé")
    confidentiality: Code = Code("N", CONFIDENTIALITY, "Normal")
    events: tuple[Code, ...] = ()
    content_type: Code | None = None  # SubmissionSet contentTypeCode; None: the type code

    def format_for(self, *, cda: bool) -> Code:
        """formatCode: a PDF alone is described by its MIME type; a CDA R2 N1 wrapping is XDS-SD PDF."""
        if cda:
            return Code(FORMAT_CDA_PDF, FORMAT_IHE, "Document à corps non structuré en Pdf/A-1")
        return Code(FORMAT_PDF_ONLY, FORMAT_IHE, "Format décrit par le type MIME")


_REPORT = Code("10", CLASS_CISIS, "Compte rendu")
DEFAULT_DOCUMENT_KINDS: dict[str, DocumentCodes] = {
    "discharge-letter": DocumentCodes(
        Code("11490-0", LOINC, "Lettre de liaison à la sortie d'un établissement de soins"), _REPORT),
    "hospital-report": DocumentCodes(Code("34112-3", LOINC, "Compte rendu d'hospitalisation"), _REPORT),
    "operative-report": DocumentCodes(Code("34874-7", LOINC, "Compte rendu opératoire"), _REPORT),
    "consultation-report": DocumentCodes(Code("11488-4", LOINC, "Compte rendu de consultation"), _REPORT),
    "imaging-report": DocumentCodes(Code("18748-4", LOINC, "Compte rendu d'imagerie médicale"), _REPORT),
    "lab-report": DocumentCodes(Code("11502-2", LOINC, "Compte rendu d'examens biologiques"), _REPORT),
    "prescription": DocumentCodes(
        Code("57833-6", LOINC, "Prescription de produits de santé"), Code("09", CLASS_CISIS, "Prescription")),
}


def document_codes(kind: str, table: Mapping[str, DocumentCodes]) -> DocumentCodes:
    """The codes of a document kind from the configured table, or a clear refusal."""
    try:
        return table[kind]
    except KeyError:
        raise InvalidTrait("mss-document-kind-unknown", field="kind", value=str(kind)[:40],
                           valid=", ".join(sorted(table))) from None


def clean_text(value: str, what: str, *, max_length: int = MAX_TEXT) -> str:
    """Free text of the metadata (title, names): trimmed, not empty, no control characters."""
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text or len(text) > max_length or any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise InvalidTrait("mss-text-invalid", field=what, what=what, max=max_length)
    return text


@dataclass(frozen=True, slots=True)
class Author:
    """The document's author: a person (RPPS when known) and the establishment."""

    family: str | None = None
    given: str | None = None
    rpps: str | None = None  # 11 digits; written as IDNPS 8 + RPPS
    specialty: Code | None = None


@dataclass(frozen=True, slots=True)
class Establishment:
    """The sending establishment and system (settings)."""

    name: str
    finess: str  # FINESS juridique or géographique: IDNST 1 + FINESS
    source_oid: str  # the sending system's OID (SubmissionSet sourceId)
    ipp_oid: str  # the IPP domain's OID (sourcePatientId)
    software: str = "Identito"
    software_version: str = ""
    contact: str = ""


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What the sender says about one document."""

    title: str
    kind: str
    created_at: datetime  # creationTime (UTC)
    author: Author = field(default_factory=Author)
    service_start_at: datetime | None = None
    service_stop_at: datetime | None = None
    language: str = "fr-FR"
    action: Action = Action.SEND
    previous_unique_id: str | None = None  # the document replaced or deleted
    version: int = 1  # CDA versionNumber (2 for a first replacement...)
    set_id: str | None = None  # CDA setId; default: the previous document's id, else its own

    def checked(self) -> DocumentMetadata:
        """Free text cleaned; a replace or delete names the document already sent."""
        if self.action is not Action.SEND and not (self.previous_unique_id or "").strip():
            raise InvalidTrait("mss-previous-required", field="previous_unique_id")
        author = self.author
        author = replace(
            author,
            family=clean_text(author.family, "author family name") if author.family else None,
            given=clean_text(author.given, "author given name") if author.given else None,
        )
        return replace(self, title=clean_text(self.title, "title"), author=author)
