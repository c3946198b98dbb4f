"""IHE_XDM.ZIP: the archive an MSSanté mail carries (IHE ITI-32 Portable Media, mssante.md).

Entries, in this order, ISO 9660 level 1 names (8.3, upper case), no directory entries:
``INDEX.HTM``, ``README.TXT``, ``IHE_XDM/SUBSET01/METADATA.XML``, ``IHE_XDM/SUBSET01/DOC0001.PDF``
(or ``DOC0001.XML`` when the PDF is wrapped in a CDA R2 level 1 document). INDEX.HTM and
README.TXT name the sender and the document title, never the patient.

Pure: no clock, no randomness unless no seed is given for the ids. The same inputs and seed give
the same bytes (zip entry times come from ``submitted_at``).
"""

from __future__ import annotations

import hashlib
import html
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime

from app.domain.cover_page import DocumentRejected, DocumentTooLarge
from app.domain.identity import Identity
from app.domain.mssante import Action, InsFlag, MssPolicy, patient_indexing
from app.domain.xds import DocumentCodes, DocumentMetadata, Establishment, document_codes
from app.integrations.documents.pdfinput import looks_like_pdf, open_pdf
from app.integrations.mssante.cda import CdaDocument, build_cda
from app.integrations.mssante.ids import PackageIds
from app.integrations.mssante.metadata import (
    DocumentFile,
    Patient,
    Submission,
    build_metadata,
    document_unique_id,
    utc,
)

ARCHIVE_NAME = "IHE_XDM.ZIP"
SUBSET = "IHE_XDM/SUBSET01/"
INDEX, README, METADATA = "INDEX.HTM", "README.TXT", SUBSET + "METADATA.XML"


@dataclass(frozen=True, slots=True)
class XdmPackage:
    """A built archive and what the mail around it needs to know."""

    archive: bytes
    document_name: str  # the file inside the archive (DOC0001.PDF / DOC0001.XML)
    document: bytes  # the document as attached to the mail (the PDF or the CDA)
    unique_id: str  # DocumentEntry.uniqueId
    submission_set_id: str
    ins_flag: InsFlag  # X-MSS-INS
    cda_code: str | None  # X-MSS-CODECDA: the CDA's type code, None without CDA


def patient_of(identity: Identity, policy: MssPolicy, ipp_oid: str) -> Patient:
    """The patient as sent: an open identity, the INS only when the domain allows it (RNIV EXI SI 08)."""
    identity.check_open()
    indexing = patient_indexing(identity.state, identity.active_ins, policy)
    oid = identity.ipp_authority.universal_id or ipp_oid
    return Patient(identity.ipp, oid, identity.traits, indexing.ins)


def check_pdf(pdf: bytes, *, max_bytes: int, max_pages: int, parsed: bool = False) -> None:
    """The documents capability's checks: size limit, then a readable, unencrypted PDF.

    ``parsed``: the caller already opened this PDF with ``open_pdf`` (it stamped it): the page tree
    is not walked again (it is most of the packaging time for long documents).
    """
    if len(pdf) > max_bytes:
        raise DocumentTooLarge(limit=max_bytes)
    if not pdf:
        raise DocumentRejected(reason="empty file")
    if not looks_like_pdf(pdf):
        raise DocumentRejected(reason="not a PDF file")
    if not parsed:
        open_pdf(pdf, max_pages=max_pages)


def build_xdm(
    pdf: bytes,
    identity: Identity,
    metadata: DocumentMetadata,
    *,
    establishment: Establishment,
    policy: MssPolicy,
    kinds: dict[str, DocumentCodes],
    submitted_at: datetime,
    cda: bool = False,
    seed: str | None = None,
    max_bytes: int = 20 * 1024 * 1024,
    max_pages: int = 2000,
    pdf_parsed: bool = False,
) -> XdmPackage:
    """The IHE_XDM.ZIP for one document; refused (nothing built) on a bad PDF or a broken rule."""
    check_pdf(pdf, max_bytes=max_bytes, max_pages=max_pages, parsed=pdf_parsed)
    metadata = metadata.checked()
    codes = document_codes(metadata.kind, kinds)
    patient = patient_of(identity, policy, establishment.ipp_oid)
    ids = PackageIds.make(seed)
    if metadata.action is Action.DELETE and metadata.previous_unique_id:
        unique = metadata.previous_unique_id
    else:
        unique = ids.document
    if cda:
        document = build_cda(CdaDocument(unique, metadata, codes, establishment, metadata.created_at),
                             patient, pdf)
        name, mime = "DOC0001.XML", "text/xml"
    else:
        document, name, mime = pdf, "DOC0001.PDF", "application/pdf"
    file = DocumentFile(name, mime, hashlib.sha1(document).hexdigest(), len(document))  # noqa: S324 - XDS hash is SHA-1
    submission = Submission(patient, metadata, codes, establishment, file, ids, submitted_at, cda)
    entries = [
        (INDEX, index_htm(establishment, metadata.title, name)),
        (README, readme_txt(establishment, submitted_at)),
        (METADATA, build_metadata(submission)),
        (SUBSET + name, document),
    ]
    return XdmPackage(
        archive=zip_entries(entries, submitted_at),
        document_name=name,
        document=document,
        unique_id=document_unique_id(submission),
        submission_set_id=ids.submission_set,
        ins_flag=InsFlag.YES if patient.ins is not None else InsFlag.NO,
        cda_code=codes.type.code if cda else None,
    )


def zip_entries(entries: list[tuple[str, bytes]], moment: datetime) -> bytes:
    """A zip of the entries in order, with a fixed time and permissions (reproducible bytes)."""
    moment = utc(moment)
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute,
             moment.second - moment.second % 2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, data)
    return buffer.getvalue()


def index_htm(establishment: Establishment, title: str, document_name: str) -> bytes:
    """INDEX.HTM: an overview of the media (sender, document, where it is); no patient data."""
    e = html.escape
    return (
        "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
        f"<title>IHE XDM - {e(establishment.name)}</title></head><body>\r\n"
        f"<h1>Documents transmis par {e(establishment.name)}</h1>\r\n"
        f"<p>Logiciel : {e(establishment.software)} {e(establishment.software_version)}</p>\r\n"
        "<ul>\r\n"
        f"<li><a href=\"IHE_XDM/SUBSET01/{document_name}\">{e(title)}</a></li>\r\n"
        "<li><a href=\"IHE_XDM/SUBSET01/METADATA.XML\">Métadonnées XDS (METADATA.XML)</a></li>\r\n"
        "</ul>\r\n<p><a href=\"README.TXT\">README.TXT</a></p>\r\n</body></html>\r\n"
    ).encode()


def readme_txt(establishment: Establishment, submitted_at: datetime) -> bytes:
    """README.TXT: who created the media (organisation, software and version, contact)."""
    lines = [
        "IHE XDM - support de transmission de documents de sante",
        f"Organisation : {establishment.name} (FINESS {establishment.finess})",
        f"Logiciel : {establishment.software} {establishment.software_version}".rstrip(),
        f"Contact : {establishment.contact or '-'}",
        f"Cree le : {utc(submitted_at).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "Contenu : INDEX.HTM, README.TXT, IHE_XDM/SUBSET01/ (METADATA.XML et le document)",
    ]
    return ("\r\n".join(" ".join(line.split()) for line in lines) + "\r\n").encode()
