"""The INS cover page ("page de garde", A4) and the INS block stamped on a first page.

Drawn with reportlab: text in DejaVu Sans (embedded subset), the DataMatrix as vector rectangles,
no external resource, no patient trait in the PDF metadata. Labels are French: the page is read
by French care teams and archives.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from app.domain.cover_page import CoverPageData
from app.domain.traits import Sex
from app.integrations.documents.fonts import DEFAULT_FONT_DIR, FontPair, fonts
from app.integrations.documents.symbol import Symbol, encode_symbol

GREY = Color(0.35, 0.35, 0.35)
RED = Color(0.72, 0.05, 0.05)
MARGIN = 20 * mm
SCAN_MENTION = "INS à scanner"
SEX_LABELS = {Sex.M: "M (masculin)", Sex.F: "F (féminin)", Sex.U: "U (inconnu)"}


@dataclass(frozen=True, slots=True)
class Layout:
    """Sizes that a deployment may tune."""

    symbol_mm: float = 25.0
    quiet_modules: int = 2
    font_dir: Path = DEFAULT_FONT_DIR


def format_matricule(matricule: str) -> str:
    """Group a matricule as printed on French cards: 2 77 01 01 154 003 29."""
    cuts = (1, 3, 5, 7, 10, 13)
    parts, start = [], 0
    for cut in cuts:
        parts.append(matricule[start:cut])
        start = cut
    parts.append(matricule[start:])
    return " ".join(parts)


def nature_label(data: CoverPageData) -> str:
    """NIR or NIA, with TEST / DÉMO for the fictitious-patient OIDs."""
    usage = data.usage_label
    return f"{data.ins.nature.value} ({usage})" if usage else data.ins.nature.value


def identity_rows(data: CoverPageData) -> list[tuple[str, str]]:
    """The patient block: label and value of each printed trait, in reading order."""
    traits = data.traits
    place = traits.birth_place_code or "non renseigné"
    if traits.birth_place_code and data.birth_place_name:
        place = f"{traits.birth_place_code} ({data.birth_place_name})"
    rows = [
        ("Matricule INS", format_matricule(data.ins.matricule)),
        ("Nature", nature_label(data)),
        ("Nom de naissance", traits.birth_name),
        ("Prénom(s) de naissance", traits.first_names),
        ("Sexe", SEX_LABELS[traits.sex]),
        ("Date de naissance", traits.birth_date.strftime("%d/%m/") + f"{traits.birth_date.year:04d}"),
        ("Lieu de naissance", place),
    ]
    if data.show_used_name and traits.used_name:
        rows.append(("Nom utilisé", traits.used_name))
    if data.show_used_first_name and traits.used_first_name:
        rows.append(("Prénom utilisé", traits.used_first_name))
    return rows


def document_rows(data: CoverPageData) -> list[tuple[str, str]]:
    """The document block, only what the caller gave."""
    info = data.document
    rows = []
    if info.title:
        rows.append(("Titre", info.title))
    if info.document_date:
        rows.append(("Date", info.document_date.strftime("%d/%m/%Y")))
    if info.author:
        rows.append(("Auteur / service", info.author))
    if info.establishment:
        rows.append(("Établissement", info.establishment))
    return rows


def draw_symbol(canvas: Canvas, symbol: Symbol, x: float, y: float, width: float, quiet: int) -> None:
    """Draw the symbol as vector runs on a white square (quiet zone included), lower-left at x, y."""
    side = symbol.size + 2 * quiet
    module = width / side
    canvas.setFillColor(white)
    canvas.rect(x, y, width, width, stroke=0, fill=1)
    path = canvas.beginPath()
    for row, column, length in symbol.runs():
        top = y + width - (quiet + row) * module
        path.rect(x + (quiet + column) * module, top - module, length * module, module)
    canvas.setFillColor(black)
    canvas.drawPath(path, stroke=0, fill=1)


def _rows(
    canvas: Canvas, font: FontPair, rows: list[tuple[str, str]], x: float, y: float, width: float
) -> float:
    """Draw label/value rows; long values wrap. Returns the y below the last row."""
    label_width = 48 * mm
    for label, value in rows:
        canvas.setFont(font.regular, 9)
        canvas.setFillColor(GREY)
        canvas.drawString(x, y, label)
        canvas.setFont(font.bold, 11)
        canvas.setFillColor(black)
        for line in simpleSplit(value, font.bold, 11, width - label_width) or [""]:
            canvas.drawString(x + label_width, y, line)
            y -= 14
        y -= 4
    return y


def _heading(canvas: Canvas, font: FontPair, text: str, y: float) -> float:
    canvas.setFont(font.bold, 12)
    canvas.setFillColor(black)
    canvas.drawString(MARGIN, y, text)
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, y - 4, A4[0] - MARGIN, y - 4)
    return y - 22


def _banner(canvas: Canvas, font: FontPair, data: CoverPageData, y: float) -> float:
    """A red banner for a fictitious (test / demonstration) patient."""
    if data.usage_label is None:
        return y
    canvas.setFillColor(RED)
    canvas.rect(MARGIN, y - 8, A4[0] - 2 * MARGIN, 24, stroke=0, fill=1)
    canvas.setFillColor(white)
    canvas.setFont(font.bold, 11)
    text = f"PATIENT FICTIF — INS {data.usage_label} (OID {data.ins.oid})"
    canvas.drawCentredString(A4[0] / 2, y, text)
    return y - 36


def _metadata(canvas: Canvas, data: CoverPageData) -> None:
    """Document information without any patient trait."""
    canvas.setTitle("Page de garde INS")
    canvas.setAuthor(data.establishment_name)
    canvas.setCreator("Identito")
    canvas.setSubject(data.document.title or "Identité Nationale de Santé")


def render_cover_page(data: CoverPageData, layout: Layout = Layout()) -> bytes:
    """The A4 cover page as a one-page PDF."""
    font = fonts(layout.font_dir)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1, initialFontName=font.regular)
    _metadata(canvas, data)
    width, height = A4
    y = height - MARGIN
    canvas.setFont(font.bold, 12)
    canvas.drawString(MARGIN, y, data.establishment_name[:90])
    canvas.setFont(font.bold, 18)
    canvas.drawString(MARGIN, y - 34, "Page de garde — Identité Nationale de Santé")
    canvas.setFont(font.regular, 9)
    canvas.setFillColor(GREY)
    canvas.drawString(MARGIN, y - 50, "À conserver en tête du document : identité qualifiée (INS).")
    y = _banner(canvas, font, data, y - 80)
    y = _heading(canvas, font, "Patient", y)
    symbol_width = layout.symbol_mm * mm
    symbol_x = width - MARGIN - symbol_width
    draw_symbol(
        canvas,
        encode_symbol(data.payload),
        symbol_x,
        y - symbol_width + 10,
        symbol_width,
        layout.quiet_modules,
    )
    canvas.setFont(font.bold, 9)
    canvas.drawCentredString(symbol_x + symbol_width / 2, y - symbol_width - 2, SCAN_MENTION)
    symbol_bottom = y - symbol_width - 14
    y = _rows(canvas, font, identity_rows(data), MARGIN, y, symbol_x - MARGIN - 8 * mm)
    y = min(y, symbol_bottom) - 16
    rows = document_rows(data)
    if rows:
        y = _heading(canvas, font, "Document", y)
        y = _rows(canvas, font, rows, MARGIN, y, width - 2 * MARGIN)
    _footer(canvas, font, data)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _footer(canvas: Canvas, font: FontPair, data: CoverPageData) -> None:
    canvas.setFont(font.regular, 8)
    canvas.setFillColor(GREY)
    canvas.drawString(MARGIN, MARGIN, f"{data.establishment_name[:80]} — page de garde générée par Identito")
    canvas.drawRightString(A4[0] - MARGIN, MARGIN, "Identité qualifiée (RNIV EXI SI 08)")


BLOCK_WIDTH = 95 * mm
BLOCK_HEIGHT = 24 * mm


def render_ins_block(data: CoverPageData, layout: Layout = Layout()) -> bytes:
    """A one-page PDF of BLOCK_WIDTH x BLOCK_HEIGHT: DataMatrix, its mention and the INS traits."""
    font = fonts(layout.font_dir)
    out = io.BytesIO()
    canvas = Canvas(
        out, pagesize=(BLOCK_WIDTH, BLOCK_HEIGHT), pageCompression=1, initialFontName=font.regular
    )
    side = 20 * mm
    draw_symbol(canvas, encode_symbol(data.payload), 0, BLOCK_HEIGHT - side, side, layout.quiet_modules)
    canvas.setFont(font.bold, 6)
    canvas.drawCentredString(side / 2, 1, SCAN_MENTION)
    lines = _block_lines(data)
    y = BLOCK_HEIGHT - 8
    for index, line in enumerate(lines):
        canvas.setFont(font.bold if index == 0 else font.regular, 7)
        for part in simpleSplit(line, font.regular, 7, BLOCK_WIDTH - side - 3 * mm)[:2]:
            canvas.drawString(side + 2 * mm, y, part)
            y -= 8.5
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _block_lines(data: CoverPageData) -> list[str]:
    traits = data.traits
    born = traits.birth_date.strftime("%d/%m/") + f"{traits.birth_date.year:04d}"
    return [
        f"INS : {format_matricule(data.ins.matricule)} ({nature_label(data)})",
        f"{traits.birth_name} {traits.first_names}",
        f"Sexe {traits.sex.value} — né(e) le {born} — lieu {traits.birth_place_code or '-'}",
    ]
