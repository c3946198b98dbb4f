"""Decoding: find the DataMatrix in scans and PDFs and give back the exact payload bytes."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter

from app.domain.datamatrix import parse_payload
from app.integrations.documents.cover import render_cover_page
from app.integrations.documents.renderer import DocumentRenderer
from tests.documents_support import data, pdf_page_png, sample_pdf

RENDERER = DocumentRenderer()


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def page_scan(tmp_path_factory) -> Image.Image:
    """The cover page printed and scanned at 200 dpi, slightly rotated and blurred."""
    folder = tmp_path_factory.mktemp("scan")
    path = folder / "cover.pdf"
    path.write_bytes(render_cover_page(data()))
    image = pdf_page_png(path, 1, folder / "page", dpi=200).convert("L")
    return image.rotate(4, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(0.8))


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("JPEG", {"quality": 60}), ("TIFF", {"compression": "tiff_lzw"})],
)
def test_scanned_page_in_each_image_format(page_scan, fmt, options):
    found = RENDERER.scan(encoded(page_scan, fmt, **options))
    assert found == [data().payload.encode("ascii")]
    assert parse_payload(found[0].decode("ascii")) == parse_payload(data().payload)


def test_symbol_png_from_the_renderer():
    assert RENDERER.scan(RENDERER.datamatrix_png(data().payload)) == [data().payload.encode()]


def test_pdf_first_page_is_rasterised():
    assert RENDERER.scan(render_cover_page(data())) == [data().payload.encode()]
    stamped = RENDERER.stamp(sample_pdf(2), data()).pdf
    assert RENDERER.scan(stamped) == [data().payload.encode()]


def test_nothing_found_is_an_empty_list():
    assert RENDERER.scan(sample_pdf(1)) == []
    assert RENDERER.scan(encoded(Image.new("L", (300, 300), 255), "PNG")) == []
