"""Find and read DataMatrix symbols in a scanned image or the first page of a PDF.

Images: PNG, JPEG or TIFF (first frame), opened by Pillow with a pixel ceiling. PDFs: the first
page is rasterised by pdfium (pypdfium2) in grey at a resolution capped by the same ceiling.
Symbols are read by zxing-cpp, which is independent of the libdmtx encoder; its raw bytes are
returned, not its display text (which shows GS as "<GS>").
"""

from __future__ import annotations

import io
import logging
import warnings

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

from app.domain.cover_page import DocumentRejected
from app.integrations.documents.pdfinput import looks_like_pdf

log = logging.getLogger(__name__)
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "TIFF"})


def read_symbols(image: Image.Image) -> list[bytes]:
    """Raw bytes of every DataMatrix found in an image."""
    grey = image.convert("L")
    formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix)
    found = zxingcpp.read_barcodes(grey, formats=formats)
    if not found:
        # A small symbol on a big page: one more pass with a binarizer suited to print scans.
        found = zxingcpp.read_barcodes(grey, formats=formats, binarizer=zxingcpp.Binarizer.GlobalHistogram)
    return [result.bytes for result in found if result.valid]


def open_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """Open a PNG/JPEG/TIFF upload, refusing other formats and decompression bombs."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in IMAGE_FORMATS:
                raise DocumentRejected(reason="unsupported image format (PNG, JPEG or TIFF expected)")
            width, height = image.size
            if width * height > max_pixels:
                raise DocumentRejected(reason="image larger than {max_pixels} pixels", max_pixels=max_pixels)
            image.load()
    except DocumentRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DocumentRejected(
            reason="image larger than {max_pixels} pixels", max_pixels=max_pixels
        ) from None
    except Exception as error:  # noqa: BLE001 - any decoder failure means a broken image
        log.info("image rejected: %s", type(error).__name__)
        raise DocumentRejected(reason="broken or unsupported image") from None
    return image


def rasterise_first_page(data: bytes, *, dpi: int, max_pixels: int) -> Image.Image:
    """The first page of a PDF as a grey image, at dpi or less so that it fits in max_pixels."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        text = str(error).lower()
        reason = "encrypted PDF (remove the password first)" if "password" in text else "broken PDF"
        raise DocumentRejected(reason=reason) from None
    try:
        if len(document) < 1:
            raise DocumentRejected(reason="PDF without pages")
        page = document[0]
        try:
            width, height = page.get_size()
            scale = dpi / 72
            if width <= 0 or height <= 0:
                raise DocumentRejected(reason="broken PDF (empty page)")
            if width * height * scale * scale > max_pixels:
                scale = (max_pixels / (width * height)) ** 0.5
            bitmap = page.render(scale=scale, grayscale=True)
            try:
                image: Image.Image = bitmap.to_pil().copy()
                return image
            finally:
                bitmap.close()
        finally:
            page.close()
    except DocumentRejected:
        raise
    except Exception as error:  # noqa: BLE001 - pdfium failures on hostile pages
        log.info("pdf page rejected: %s", type(error).__name__)
        raise DocumentRejected(reason="broken PDF (first page cannot be rendered)") from None
    finally:
        document.close()


def scan_symbols(data: bytes, *, dpi: int = 200, max_pixels: int = 40_000_000) -> list[bytes]:
    """Symbols in an uploaded image or PDF (first page)."""
    if not data:
        raise DocumentRejected(reason="empty file")
    if looks_like_pdf(data):
        image = rasterise_first_page(data, dpi=dpi, max_pixels=max_pixels)
    else:
        image = open_image(data, max_pixels=max_pixels)
    try:
        return read_symbols(image)
    finally:
        image.close()
