"""Shared builders for the document tests: identities, sample PDFs, external tools."""

from __future__ import annotations

import io
import subprocess
from datetime import date
from pathlib import Path

import zxingcpp
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from app.domain.cover_page import CoverPageData, DocumentInfo, cover_page_data
from app.domain.ins import OID_NIR, Ins
from app.domain.status import IdentityState, Status
from app.domain.traits import Traits, build_traits

TODAY = date(2026, 11, 24)


def traits(**overrides: str) -> Traits:
    """Traits of the spec's example patient, with overrides."""
    raw = {
        "birth_name": "GARCIA-HAMMADI",
        "first_names": "SARAH-LOU ANNA",
        "birth_date": "1977-01-21",
        "sex": "F",
        "birth_place_code": "01154",
    }
    raw.update(overrides)
    return build_traits(today=TODAY, **raw)


def data(
    matricule: str = "277010115400329",
    oid: str = OID_NIR,
    the_traits: Traits | None = None,
    **document: object,
) -> CoverPageData:
    """Cover page data of a QUAL identity."""
    return cover_page_data(
        IdentityState.of(Status.QUAL),
        Ins.of(matricule, oid),
        the_traits or traits(),
        establishment_name="Centre hospitalier de test",
        document=DocumentInfo(**document),  # type: ignore[arg-type]
    )


def sample_pdf(pages: int = 10, *, title: str = "Original report", rotate: int = 0) -> bytes:
    """A plain multi-page PDF written by reportlab (classic cross-reference table)."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.setTitle(title)
    canvas.setAuthor("Dr Original")
    for number in range(pages):
        canvas.drawString(72, 700, f"Compte rendu page {number + 1}")
        canvas.setPageRotation(rotate)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def zxing_bytes(image: Image.Image) -> list[bytes]:
    """The independent decoder's raw bytes for every DataMatrix in an image."""
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.DataMatrix)
    return [result.bytes for result in found]


def run(*args: str | Path) -> str:
    """Run a command-line tool, failing the test on a non-zero exit."""
    done = subprocess.run([str(a) for a in args], capture_output=True, timeout=60, check=True)
    return done.stdout.decode("utf-8", "replace")


def pdf_page_png(pdf: Path, page: int, out_stem: Path, dpi: int = 150) -> Image.Image:
    """Render one page with poppler's pdftoppm."""
    run("pdftoppm", "-f", str(page), "-l", str(page), "-r", str(dpi), "-png", "-singlefile", pdf, out_stem)
    return Image.open(f"{out_stem}.png")


def build_pdf(objects: list[bytes], *, root: int = 1, header: bytes = b"%PDF-1.7\n") -> bytes:
    """A hand-written PDF: numbered objects 1..n with a correct cross-reference table."""
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f\r\n".encode()
    out += b"".join(f"{offset:010d} 00000 n\r\n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def page_tree_pdf(count: int, kids: str = "3 0 R") -> bytes:
    """Catalog, a page tree declaring `count` pages, one real page."""
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def object_stream_pdf() -> bytes:
    """A PDF 1.5 whose catalog, page tree and page live in an object stream, with an xref stream."""
    content = b"BT /F1 18 Tf 72 700 Td (Compte rendu page 1) Tj ET"
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
    ]
    header, offset = b"", 0
    for number, body in enumerate(bodies, start=1):
        header += f"{number} {offset} ".encode()
        offset += len(body) + 1
    packed = header + b"".join(body + b"\n" for body in bodies)
    out = bytearray(b"%PDF-1.5\n")
    positions = {4: len(out)}
    out += b"4 0 obj\n<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream\nendobj\n"
    positions[5] = len(out)
    out += b"5 0 obj\n<< /Type /ObjStm /N 3 /First %d /Length %d >>\nstream\n" % (len(header), len(packed))
    out += packed + b"\nendstream\nendobj\n"
    positions[6] = len(out)
    rows = [
        (0, 0, 65535),
        (2, 5, 0),
        (2, 5, 1),
        (2, 5, 2),
        (1, positions[4], 0),
        (1, positions[5], 0),
        (1, positions[6], 0),
    ]
    table = b"".join(
        kind.to_bytes(1, "big") + a.to_bytes(4, "big") + b.to_bytes(2, "big") for kind, a, b in rows
    )
    out += b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(table)
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % positions[6]
    return bytes(out)
