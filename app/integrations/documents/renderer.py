"""The documents adapter: one object that renders, stamps and scans, built from the settings."""

from __future__ import annotations

from app.config import DocumentsSettings
from app.domain.cover_page import CoverPageData, StampedDocument
from app.domain.labels import LabelSheet, Placement, TraitsLabel
from app.integrations.documents.cover import Layout, render_cover_page, render_ins_block
from app.integrations.documents.decode import scan_symbols
from app.integrations.documents.labels import render_label_sheet
from app.integrations.documents.pdfinput import open_pdf
from app.integrations.documents.stamp import prepend_cover
from app.integrations.documents.symbol import encode_symbol, render_png, render_svg


class DocumentRenderer:
    """DataMatrix images, cover pages, stamped PDFs and symbol scans (the services' renderer port)."""

    def __init__(self, settings: DocumentsSettings | None = None) -> None:
        self.settings = settings or DocumentsSettings()
        self.layout = Layout(
            symbol_mm=self.settings.symbol_mm,
            quiet_modules=self.settings.quiet_zone_modules,
            font_dir=self.settings.font_dir,
        )

    def datamatrix_png(self, payload: str, module_px: int | None = None) -> bytes:
        """The symbol as a PNG with its quiet zone."""
        return render_png(
            encode_symbol(payload),
            module_px=module_px or self.settings.png_module_px,
            quiet_modules=self.settings.quiet_zone_modules,
        )

    def datamatrix_svg(self, payload: str) -> str:
        """The symbol as a vector SVG, printed size = the cover page's."""
        return render_svg(
            encode_symbol(payload),
            width_mm=self.settings.symbol_mm,
            quiet_modules=self.settings.quiet_zone_modules,
        )

    def cover_page(self, data: CoverPageData) -> bytes:
        """The A4 cover page PDF."""
        return render_cover_page(data, self.layout)

    def label_sheet(self, data: CoverPageData | TraitsLabel, ipp: str, sheet: LabelSheet,
                    where: list[Placement]) -> bytes:
        """The A4 label sheet PDF, a label at each placement (with INS, or without: ``TraitsLabel``)."""
        return render_label_sheet(data, ipp, sheet, where, self.layout)

    def stamp(self, pdf: bytes, data: CoverPageData, *, first_page: bool | None = None) -> StampedDocument:
        """The uploaded PDF with the cover page in front (and the INS block on page 1 if asked)."""
        opened = open_pdf(pdf, max_pages=self.settings.max_pages)
        on_first = self.settings.stamp_first_page if first_page is None else first_page
        block = render_ins_block(data, self.layout) if on_first else None
        return prepend_cover(opened, self.cover_page(data), block)

    def scan(self, data: bytes) -> list[bytes]:
        """Raw contents of the DataMatrix symbols in an image or a PDF's first page."""
        return scan_symbols(data, dpi=self.settings.scan_dpi, max_pixels=self.settings.scan_max_pixels)
