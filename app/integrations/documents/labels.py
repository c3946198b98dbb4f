"""Label sheets: A4 pages of labels, each with the INS traits, the IPP and the DataMatrix INS (a QUAL
identity), or with the traits and the IPP only, no INS and no symbol (a label without INS, any
status: app.domain.labels.TraitsLabel).

Drawn with reportlab like the cover page (DejaVu Sans embedded, the symbol as vector rectangles,
no patient trait in the PDF metadata). One label is drawn once as a Form XObject and placed at
every position the domain computed (app.domain.labels.placements).
"""

from __future__ import annotations

import io

from reportlab.lib.colors import black
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from app.domain.cover_page import CoverPageData
from app.domain.labels import LabelSheet, Placement, TraitsLabel
from app.integrations.documents.cover import SCAN_MENTION, Layout, draw_symbol, format_matricule, nature_label
from app.integrations.documents.fonts import FontPair, fonts
from app.integrations.documents.symbol import encode_symbol

SYMBOL_SHARE = 0.68  # the symbol's width, quiet zone included, as a share of the usable height
MAX_POINTS, NO_WRAP_POINTS, MIN_POINTS = 7.5, 5.5, 4.0
TRAITS_MAX_POINTS = 10.0  # a label without INS has no symbol: its text may be larger
MAX_SYMBOL_MM = 20.0  # about 2 cm, quiet zone included (datamatrix-ins.md)
LEADING = 1.18


def label_lines(data: CoverPageData, ipp: str) -> list[tuple[str, bool]]:
    """The text of one label, in reading order, with whether the line is bold."""
    traits = data.traits
    born = traits.birth_date.strftime("%d/%m/") + f"{traits.birth_date.year:04d}"
    lines = [(traits.birth_name, True)]
    if data.show_used_name and traits.used_name:
        lines.append((f"Nom utilisé : {traits.used_name}", False))
    lines.append((traits.first_names, False))
    if data.show_used_first_name and traits.used_first_name:
        lines.append((f"Prénom utilisé : {traits.used_first_name}", False))
    lines.append((f"Né(e) le {born} · Sexe {traits.sex.value}", False))
    lines.append((f"Lieu de naissance {traits.birth_place_code or '—'}", False))
    lines.append((f"INS {format_matricule(data.ins.matricule)} ({nature_label(data)})", True))
    lines.append((f"IPP {ipp}", False))
    return lines


def traits_label_lines(label: TraitsLabel) -> list[tuple[str, bool]]:
    """The text of one label without INS, in reading order, with whether the line is bold."""
    lines = [(label.birth_name, True)]
    if label.used_name:
        lines.append((f"Nom utilisé : {label.used_name}", False))
    lines.append((label.first_name, False))
    lines.append((f"Né(e) le {label.birth_date_text} · Sexe {label.sex}", False))
    lines.append((f"IPP {label.ipp}", True))
    return lines


Lines = list[tuple[str, bool]]


def _fit(font: FontPair, lines: Lines, width: float, height: float,
         largest: float = MAX_POINTS) -> tuple[float, Lines]:
    """The largest size at which every line fits unbroken (down to NO_WRAP_POINTS); else the largest
    at which the wrapped lines fit (down to MIN_POINTS). A trait is never cut."""
    def wrapped_at(size: float) -> Lines:
        return [(part, bold) for text, bold in lines
                for part in simpleSplit(text, font.bold if bold else font.regular, size, width) or [""]]

    size = largest
    while size >= NO_WRAP_POINTS:
        unbroken = wrapped_at(size)
        if len(unbroken) == len(lines) and len(lines) * size * LEADING <= height:
            return size, unbroken
        size -= 0.25
    size = largest
    while True:
        wrapped = wrapped_at(size)
        if len(wrapped) * size * LEADING <= height or size <= MIN_POINTS:
            return size, wrapped
        size -= 0.25


def _draw_label(canvas: Canvas, font: FontPair, data: CoverPageData, ipp: str, sheet: LabelSheet,
                layout: Layout) -> None:
    """One label, its lower-left corner at the origin."""
    width, height, pad = sheet.label_width * mm, sheet.label_height * mm, sheet.padding * mm
    usable = height - 2 * pad
    side = min(usable * SYMBOL_SHARE, MAX_SYMBOL_MM * mm)
    mention = min(6.0, (usable - side) / 2)
    symbol_y = pad + (usable - side - mention * 1.6) / 2 + mention * 1.6
    draw_symbol(canvas, encode_symbol(data.payload), pad, symbol_y, side, layout.quiet_modules)
    canvas.setFillColor(black)
    canvas.setFont(font.bold, mention)
    while stringWidth(SCAN_MENTION, font.bold, mention) > side and mention > 3:
        mention -= 0.25
        canvas.setFont(font.bold, mention)
    canvas.drawCentredString(pad + side / 2, symbol_y - mention * 1.3, SCAN_MENTION)
    text_x = pad + side + 2 * mm
    _draw_text(canvas, font, label_lines(data, ipp), text_x, width - text_x - pad, pad, usable, MAX_POINTS)


def _draw_text(canvas: Canvas, font: FontPair, lines: Lines, x: float, width: float, bottom: float,
               height: float, largest: float) -> None:
    size, wrapped = _fit(font, lines, width, height, largest)
    y = bottom + (height + len(wrapped) * size * LEADING) / 2 - size  # the block centred vertically
    for text, bold in wrapped:
        canvas.setFont(font.bold if bold else font.regular, size)
        canvas.drawString(x, y, text)
        y -= size * LEADING


def _draw_traits_label(canvas: Canvas, font: FontPair, label: TraitsLabel, sheet: LabelSheet) -> None:
    """One label without INS (no symbol: the text has the whole label), its lower-left corner at the
    origin."""
    width, height, pad = sheet.label_width * mm, sheet.label_height * mm, sheet.padding * mm
    _draw_text(canvas, font, traits_label_lines(label), pad, width - 2 * pad, pad, height - 2 * pad,
               TRAITS_MAX_POINTS)


def render_label_sheet(data: CoverPageData | TraitsLabel, ipp: str, sheet: LabelSheet, where: list[Placement],
                       layout: Layout = Layout()) -> bytes:
    """The label sheet PDF: one A4 page per sheet used, a label at each placement."""
    font = fonts(layout.font_dir)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1, initialFontName=font.regular)
    with_ins = isinstance(data, CoverPageData)
    canvas.setTitle("Planche d'étiquettes INS" if with_ins else "Planche d'étiquettes")
    canvas.setAuthor(data.establishment_name)
    canvas.setCreator("Identito")
    canvas.setSubject(f"Étiquettes {sheet.code}")
    canvas.beginForm("label", 0, 0, sheet.label_width * mm, sheet.label_height * mm)
    if isinstance(data, CoverPageData):
        _draw_label(canvas, font, data, ipp, sheet, layout)
    else:
        _draw_traits_label(canvas, font, data, sheet)
    canvas.endForm()
    pages = max((p.page for p in where), default=0) + 1
    for page in range(pages):
        for placement in (p for p in where if p.page == page):
            canvas.saveState()
            canvas.translate(placement.x * mm, A4[1] - (placement.y + sheet.label_height) * mm)
            canvas.doForm("label")
            canvas.restoreState()
        canvas.showPage()
    canvas.save()
    return out.getvalue()
