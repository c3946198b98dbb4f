"""Stamping: the cover page is prepended as an incremental update; the original stays untouched."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

from app.config import DocumentsSettings
from app.domain.cover_page import DocumentRejected
from app.integrations.documents.renderer import DocumentRenderer
from tests.documents_support import (
    build_pdf,
    data,
    object_stream_pdf,
    pdf_page_png,
    run,
    sample_pdf,
    zxing_bytes,
)

RENDERER = DocumentRenderer()


def raw_contents(page) -> list[bytes]:
    """The page's content streams as stored (encoded bytes, no re-rendering)."""
    if "/Contents" not in page:
        return []
    contents = page.raw_get("/Contents")
    refs = list(contents.get_object()) if not hasattr(contents, "idnum") else [contents]
    return [ref.get_object()._data for ref in refs]


def xref_stream_pdf() -> bytes:
    """A PDF whose last cross-reference section is a stream (as written by pypdf's incremental mode)."""
    writer = PdfWriter(PdfReader(io.BytesIO(sample_pdf(3))), incremental=True)
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signed_like_pdf() -> bytes:
    """A PDF whose AcroForm says signatures exist (SigFlags 3), as a signed document does."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(sample_pdf(2))))
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/SigFlags"): NumberObject(3), NameObject("/Fields"): ArrayObject()}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "make",
    [lambda: sample_pdf(10), xref_stream_pdf, object_stream_pdf],
    ids=["xref-table", "xref-stream", "objstm"],
)
def test_original_bytes_pages_and_metadata_are_kept(make, tmp_path):
    original = make()
    stamped = RENDERER.stamp(original, data()).pdf
    assert stamped.startswith(original)  # incremental update: not one original byte changed
    before, after = PdfReader(io.BytesIO(original)), PdfReader(io.BytesIO(stamped))
    assert len(after.pages) == len(before.pages) + 1
    for old, new in zip(before.pages, after.pages[1:], strict=True):
        assert raw_contents(new) == raw_contents(old)
        assert new.indirect_reference.idnum == old.indirect_reference.idnum
    assert after.metadata == before.metadata
    path = tmp_path / "stamped.pdf"
    path.write_bytes(stamped)
    info = run("pdfinfo", path)
    assert f"Pages:           {len(before.pages) + 1}" in info
    assert ("Title:           Original report" in info) == ("/Title" in (before.metadata or {}))


def test_poppler_reads_the_cover_first_then_the_original(tmp_path):
    original = sample_pdf(10)
    path = tmp_path / "stamped.pdf"
    path.write_bytes(RENDERER.stamp(original, data(title="Compte rendu")).pdf)
    first = run("pdftotext", "-f", "1", "-l", "1", path, "-")
    assert "Matricule INS" in first and "2 77 01 01 154 003 29" in first and "INS à scanner" in first
    assert "Compte rendu page 1" in run("pdftotext", "-f", "2", "-l", "2", path, "-")
    assert "Compte rendu page 10" in run("pdftotext", "-f", "11", "-l", "11", path, "-")
    assert zxing_bytes(pdf_page_png(path, 1, tmp_path / "p1")) == [data().payload.encode()]


def test_object_stream_original_reads_back_in_poppler(tmp_path):
    original = object_stream_pdf()
    source = tmp_path / "o.pdf"
    source.write_bytes(original)
    assert "Compte rendu page 1" in run("pdftotext", source, "-")  # the hand-made file is valid
    path = tmp_path / "s.pdf"
    path.write_bytes(RENDERER.stamp(original, data(), first_page=True).pdf)
    assert "Matricule INS" in run("pdftotext", "-f", "1", "-l", "1", path, "-")
    assert "Compte rendu page 1" in run("pdftotext", "-f", "2", "-l", "2", path, "-")
    assert zxing_bytes(pdf_page_png(path, 2, tmp_path / "p2", dpi=200)) == [data().payload.encode()]


def test_stamping_twice_chains_updates():
    once = RENDERER.stamp(sample_pdf(2), data()).pdf
    twice = RENDERER.stamp(once, data()).pdf
    assert twice.startswith(once) and len(PdfReader(io.BytesIO(twice)).pages) == 4


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_first_page_block_is_readable_and_original_streams_kept(rotate, tmp_path):
    original = sample_pdf(3, rotate=rotate)
    result = RENDERER.stamp(original, data(), first_page=True)
    assert result.first_page_stamped and result.pdf.startswith(original)
    before, after = PdfReader(io.BytesIO(original)), PdfReader(io.BytesIO(result.pdf))
    stamped_streams = raw_contents(after.pages[1])
    assert stamped_streams[1:-1] == raw_contents(before.pages[0])  # wrapped, not rewritten
    assert raw_contents(after.pages[2]) == raw_contents(before.pages[1])
    path, source = tmp_path / "s.pdf", tmp_path / "o.pdf"
    path.write_bytes(result.pdf)
    source.write_bytes(original)
    original_text = run("pdftotext", "-f", "1", "-l", "1", source, "-").strip()
    assert original_text in run("pdftotext", "-f", "2", "-l", "2", path, "-")
    image = pdf_page_png(path, 2, tmp_path / "p2", dpi=200)
    assert zxing_bytes(image) == [data().payload.encode()]
    # upright in the top-right corner of the displayed page
    top = image.convert("L").crop((0, 0, image.width, int(image.height * 0.15)))
    left, _, right, _ = top.point(lambda v: 255 if v < 100 else 0).getbbox()
    assert left > image.width * 0.4  # the block sits in the top-right corner


def test_signed_document_keeps_its_first_page():
    original = signed_like_pdf()
    result = RENDERER.stamp(original, data(), first_page=True)
    assert result.signed and not result.first_page_stamped
    assert result.pdf.startswith(original)


def test_setting_turns_first_page_stamping_on():
    renderer = DocumentRenderer(DocumentsSettings(stamp_first_page=True))
    assert renderer.stamp(sample_pdf(1), data()).first_page_stamped
    assert not RENDERER.stamp(sample_pdf(1), data()).first_page_stamped


def test_page_limit():
    renderer = DocumentRenderer(DocumentsSettings(max_pages=5))
    with pytest.raises(DocumentRejected, match="more than 5 pages"):
        renderer.stamp(sample_pdf(6), data())


def test_lying_size_in_trailer_does_not_overwrite_original_objects(tmp_path):
    original = sample_pdf(3)
    head, _, tail = original.rpartition(b"/Size ")
    number = tail.split(b"\n")[0].split()[0]
    lying = head + b"/Size " + b"3".ljust(len(number)) + tail[len(number) :]
    assert len(lying) == len(original)
    stamped = RENDERER.stamp(lying, data()).pdf
    before, after = PdfReader(io.BytesIO(lying)), PdfReader(io.BytesIO(stamped))
    assert len(after.pages) == 4
    for old, new in zip(before.pages, after.pages[1:], strict=True):
        assert raw_contents(new) == raw_contents(old)
    path = tmp_path / "s.pdf"
    path.write_bytes(stamped)
    assert "Compte rendu page 3" in run("pdftotext", "-f", "4", "-l", "4", path, "-")


def test_block_name_already_used_on_the_page_is_not_rebound(tmp_path):
    form = b"BT /F1 14 Tf 10 10 Td (Logo du service) Tj ET"
    original = build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /XObject << /IdentitoINS 5 0 R >> >> >>",
            b"<< /Length 38 >>\nstream\nq 1 0 0 1 72 600 cm /IdentitoINS Do Q\nendstream",
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 300 50] /Resources << /Font << /F1"
            b" << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> /Length %d >>\nstream\n"
            % len(form)
            + form
            + b"\nendstream",
        ]
    )
    stamped = RENDERER.stamp(original, data(), first_page=True).pdf
    page = PdfReader(io.BytesIO(stamped)).pages[1]
    xobjects = page["/Resources"]["/XObject"]
    assert sorted(xobjects) == ["/IdentitoINS", "/IdentitoINS2"]
    assert xobjects.raw_get("/IdentitoINS").idnum == 5  # the document's own form keeps its name
    path = tmp_path / "s.pdf"
    path.write_bytes(stamped)
    text = run("pdftotext", "-f", "2", "-l", "2", path, "-")
    assert "Logo du service" in text and "INS à scanner" in text
