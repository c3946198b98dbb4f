"""Hostile uploads: every unusable file is refused with a clear reason, nothing crashes or leaks."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zlib

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from app.config import DocumentsSettings
from app.domain.cover_page import DocumentRejected
from app.integrations.documents.renderer import DocumentRenderer
from tests.documents_support import build_pdf, data, page_tree_pdf, sample_pdf

RENDERER = DocumentRenderer(DocumentsSettings(max_pages=50))
ORIGINAL = sample_pdf(3)


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(ORIGINAL)))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bomb() -> bytes:
    """A valid PNG header declaring 100,000 x 100,000 pixels, with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("L", (50, 50), 255).save(out, format="PNG")
    return out.getvalue()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("L", (50, 50), 255).save(out, format="GIF")
    return out.getvalue()


def moved_startxref() -> bytes:
    head, _, tail = ORIGINAL.rpartition(b"startxref\n")
    return head + b"startxref\n" + str(int(tail.split()[0]) - 7).encode() + b"\n%%EOF\n"


BAD_PDFS = {
    "zero-byte": (b"", "empty file"),
    "not-a-pdf": (png_bytes(), "not a PDF"),
    "truncated": (ORIGINAL[: len(ORIGINAL) // 2], "broken PDF"),
    "header-then-garbage": (b"%PDF-1.7\n" + os.urandom(4000), "broken PDF"),
    "damaged-xref": (moved_startxref(), "broken PDF"),
    "encrypted": (encrypted_pdf(), "encrypted"),
    "huge-page-count": (page_tree_pdf(2_000_000_000), "more than 50 pages"),
    "count-mismatch": (page_tree_pdf(7), "page count"),
    "no-pages": (page_tree_pdf(0, kids=""), "without pages"),
    "kids-cycle": (page_tree_pdf(1, kids="2 0 R"), "broken PDF"),
    "no-page-tree": (build_pdf([b"<< /Type /Catalog >>"]), "broken PDF"),
    "deep-nesting": (
        build_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R /X " + b"[" * 5000 + b"]" * 5000 + b" >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R >>",
            ]
        ),
        "broken PDF",
    ),
    "too-many-pages": (sample_pdf(51), "more than 50 pages"),
}


@pytest.mark.parametrize("name", sorted(BAD_PDFS))
def test_unusable_pdf_is_refused_with_a_reason(name):
    content, reason = BAD_PDFS[name]
    with pytest.raises(DocumentRejected) as caught:
        RENDERER.stamp(content, data())
    assert reason in caught.value.message("en")
    assert caught.value.code == "document-rejected"
    assert "Le fichier ne peut pas être utilisé" in caught.value.message("fr")


BAD_SCANS = {
    "zero-byte": (b"", "empty file"),
    "png-bomb": (png_bomb(), "pixels"),
    "gif": (gif_bytes(), "unsupported image format"),
    "random": (os.urandom(3000), "broken or unsupported image"),
    "truncated-png": (png_bytes()[:40], "broken or unsupported image"),
    "truncated-pdf": (ORIGINAL[: len(ORIGINAL) // 2], "broken PDF"),
    "header-then-garbage": (b"%PDF-1.7\n" + os.urandom(4000), "broken PDF"),
    "encrypted-pdf": (encrypted_pdf(), "encrypted"),
    "no-pages": (page_tree_pdf(0, kids=""), "PDF"),
}


@pytest.mark.parametrize("name", sorted(BAD_SCANS))
def test_unusable_scan_is_refused_with_a_reason(name):
    content, reason = BAD_SCANS[name]
    with pytest.raises(DocumentRejected) as caught:
        RENDERER.scan(content)
    assert reason in caught.value.message("en")


def test_huge_pdf_page_is_rendered_within_the_pixel_ceiling():
    giant = build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",
        ]
    )
    small = DocumentRenderer(DocumentsSettings(scan_max_pixels=2_000_000))
    assert small.scan(giant) == []


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_repeated_hostile_files_do_not_leak_memory():
    corpus = [content for content, _ in [*BAD_PDFS.values(), *BAD_SCANS.values()] if len(content) < 100_000]

    def round_of_abuse() -> None:
        for content in corpus:
            for action in (lambda c: RENDERER.stamp(c, data()), RENDERER.scan):
                with contextlib.suppress(DocumentRejected):
                    action(content)
        stamped = RENDERER.stamp(ORIGINAL, data(), first_page=True).pdf
        assert RENDERER.scan(stamped) == [data().payload.encode()]

    for _ in range(3):
        round_of_abuse()
    before = rss_bytes()
    for _ in range(25):
        round_of_abuse()
    assert rss_bytes() - before < 25 * 1024 * 1024
