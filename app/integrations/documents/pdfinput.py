"""Uploaded PDFs: refuse what is not a readable, unencrypted PDF before doing anything with it.

pypdf raises many exception types on hostile input (its own, plus KeyError, ValueError,
RecursionError...). At this boundary every parsing failure becomes one ``DocumentRejected`` with a
message a user can act on; nothing of the file is logged.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject

from app.domain.cover_page import DocumentRejected
from app.domain.messages import register_terms

log = logging.getLogger(__name__)
PDF_MAGIC = b"%PDF-"

# Why an uploaded file is refused (here, in decode.py and stamp.py), in French.
register_terms({
    "empty file": "fichier vide",
    "not a PDF file": "ce n'est pas un fichier PDF",
    "encrypted PDF (remove the password first)":
        "PDF chiffré (retirez d'abord le mot de passe)",
    "broken PDF": "PDF endommagé",
    "broken PDF (cannot be parsed)": "PDF endommagé (illisible)",
    "broken PDF (page tree unreadable)": "PDF endommagé (arborescence des pages illisible)",
    "broken PDF (no startxref)": "PDF endommagé (pas de startxref)",
    "broken PDF (bad startxref)": "PDF endommagé (startxref incorrect)",
    "broken PDF (damaged cross-reference table; repair it first)":
        "PDF endommagé (table des références croisées abîmée ; réparez-le d'abord)",
    "broken PDF (no catalog)": "PDF endommagé (pas de catalogue)",
    "broken PDF (no page tree)": "PDF endommagé (pas d'arborescence des pages)",
    "broken PDF (page count does not match the page tree)":
        "PDF endommagé (le nombre de pages ne correspond pas à l'arborescence)",
    "broken PDF (object numbers out of range)": "PDF endommagé (numéros d'objets hors limites)",
    "broken PDF (empty page)": "PDF endommagé (page vide)",
    "broken PDF (first page cannot be rendered)":
        "PDF endommagé (la première page ne peut pas être affichée)",
    "more than {max_pages} pages": "plus de {max_pages} pages",
    "PDF without pages": "PDF sans page",
    "unsupported image format (PNG, JPEG or TIFF expected)":
        "format d'image non pris en charge (PNG, JPEG ou TIFF attendu)",
    "image larger than {max_pixels} pixels": "image de plus de {max_pixels} pixels",
    "broken or unsupported image": "image endommagée ou non prise en charge",
}, parameter="reason")


@dataclass(frozen=True, slots=True)
class OpenedPdf:
    """A parsed original: its bytes, reader, page tree root and first page references."""

    data: bytes
    reader: PdfReader
    pages_ref: IndirectObject
    first_page_ref: IndirectObject
    page_count: int


def looks_like_pdf(data: bytes) -> bool:
    """A PDF header within the first 1024 bytes (ISO 32000 tolerance)."""
    return PDF_MAGIC in data[:1024]


def open_pdf(data: bytes, *, max_pages: int) -> OpenedPdf:
    """Parse an uploaded PDF or refuse it (not a PDF, encrypted, broken, too many pages)."""
    if not data:
        raise DocumentRejected(reason="empty file")
    if not looks_like_pdf(data):
        raise DocumentRejected(reason="not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as error:  # noqa: BLE001 - any parser failure means a broken file
        log.info("pdf rejected at parse: %s", type(error).__name__)
        raise DocumentRejected(reason="broken PDF (cannot be parsed)") from None
    if encrypted:
        raise DocumentRejected(reason="encrypted PDF (remove the password first)")
    try:
        return _page_tree(data, reader, max_pages)
    except DocumentRejected:
        raise
    except Exception as error:  # noqa: BLE001 - same: broken structure
        log.info("pdf rejected at page tree: %s", type(error).__name__)
        raise DocumentRejected(reason="broken PDF (page tree unreadable)") from None


def startxref(data: bytes) -> int:
    """Offset of the last cross-reference section, from the file's final startxref."""
    tail = data[-2048:]
    position = tail.rfind(b"startxref")
    if position < 0:
        raise DocumentRejected(reason="broken PDF (no startxref)")
    try:
        return int(tail[position + 9 :].split()[0])
    except (ValueError, IndexError):
        raise DocumentRejected(reason="broken PDF (bad startxref)") from None


def _check_xref(data: bytes) -> None:
    """The last cross-reference section must be where startxref says: an update will point to it."""
    offset = startxref(data)
    head = data[offset : offset + 32]
    if not (head.startswith(b"xref") or re.match(rb"\d+\s+\d+\s+obj", head)):
        raise DocumentRejected(reason="broken PDF (damaged cross-reference table; repair it first)")


def _catalog(reader: PdfReader) -> DictionaryObject:
    root = reader.trailer["/Root"].get_object()
    if not isinstance(root, DictionaryObject):
        raise DocumentRejected(reason="broken PDF (no catalog)")
    return root


def _page_tree(data: bytes, reader: PdfReader, max_pages: int) -> OpenedPdf:
    _check_xref(data)
    root = _catalog(reader)
    pages_ref = root.raw_get("/Pages")
    if not isinstance(pages_ref, IndirectObject):
        raise DocumentRejected(reason="broken PDF (no page tree)")
    declared = pages_ref.get_object()
    if not isinstance(declared, DictionaryObject):
        raise DocumentRejected(reason="broken PDF (no page tree)")
    count = int(declared.get("/Count", 0))
    if count > max_pages:
        raise DocumentRejected(reason="more than {max_pages} pages", max_pages=max_pages)
    pages = reader.pages
    if count < 1 or len(pages) < 1:
        raise DocumentRejected(reason="PDF without pages")
    first = pages[0]
    real_count = len(reader.flattened_pages or [])
    if real_count != count or first.indirect_reference is None:
        raise DocumentRejected(reason="broken PDF (page count does not match the page tree)")
    return OpenedPdf(data, reader, pages_ref, first.indirect_reference, count)


def is_signed(opened: OpenedPdf) -> bool:
    """Whether the document carries signatures (AcroForm SigFlags or signature fields with a value)."""
    try:
        root = _catalog(opened.reader)
        form = root.get("/AcroForm")
        form = form.get_object() if form is not None else None
        if not isinstance(form, DictionaryObject):
            return "/Perms" in root
        if int(form.get("/SigFlags", 0)) & 1:
            return True
        fields = form.get("/Fields", [])
        return (
            any(field.get_object().get("/FT") == "/Sig" and "/V" in field.get_object() for field in fields)
            or "/Perms" in root
        )
    except Exception:  # noqa: BLE001 - unreadable form: treat as signed, the safe side
        return True
