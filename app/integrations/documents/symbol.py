"""DataMatrix INS symbol: ECC 200, square, C40 scheme forced (datamatrix-ins.md "Symbol").

libdmtx (through pylibdmtx) draws the symbol as an RGB bitmap with its own module size and margin;
we read the module grid back from that bitmap once and draw it ourselves, as PNG at any module
size and as vector SVG, with the quiet zone we choose.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image
from pylibdmtx import pylibdmtx

# libdmtx's encoder defaults (dmtxEncodeCreate): 5 pixels per module, 10 pixels of margin.
_LIBDMTX_MODULE_PX = 5
_LIBDMTX_MARGIN_PX = 10


class SymbolError(ValueError):
    """The payload cannot be encoded in a square C40 DataMatrix."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """The module grid of a DataMatrix symbol (True = dark), row 0 at the top, no quiet zone."""

    rows: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> int:
        """Number of modules per side."""
        return len(self.rows)

    def runs(self) -> list[tuple[int, int, int]]:
        """Horizontal runs of dark modules as (row, first column, length)."""
        found = []
        for y, row in enumerate(self.rows):
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    found.append((y, start, x - start))
                else:
                    x += 1
        return found


def encode_symbol(payload: str) -> Symbol:
    """Encode an ASCII payload as an ECC 200 square symbol in the C40 scheme."""
    try:
        data = payload.encode("ascii")
        encoded = pylibdmtx.encode(data, scheme="C40", size="SquareAuto")
    except (UnicodeEncodeError, pylibdmtx.PyLibDMTXError) as error:
        raise SymbolError(f"cannot encode the payload as C40 DataMatrix: {error}") from None
    grey = Image.frombytes("RGB", (encoded.width, encoded.height), encoded.pixels).convert("L").tobytes()
    modules = (encoded.width - 2 * _LIBDMTX_MARGIN_PX) // _LIBDMTX_MODULE_PX
    centre = _LIBDMTX_MARGIN_PX + _LIBDMTX_MODULE_PX // 2

    def dark(x: int, y: int) -> bool:
        row, column = centre + _LIBDMTX_MODULE_PX * y, centre + _LIBDMTX_MODULE_PX * x
        return bool(grey[row * encoded.width + column] < 128)

    return Symbol(tuple(tuple(dark(x, y) for x in range(modules)) for y in range(modules)))


def render_png(symbol: Symbol, *, module_px: int = 10, quiet_modules: int = 2, dpi: int = 300) -> bytes:
    """A 1-bit PNG of the symbol with its quiet zone, module_px pixels per module."""
    if module_px < 1 or quiet_modules < 1:
        raise ValueError("module size and quiet zone must be at least 1")
    side = symbol.size + 2 * quiet_modules
    grid = bytearray(b"\xff" * side * side)
    for y, x, length in symbol.runs():
        start = (quiet_modules + y) * side + quiet_modules + x
        grid[start : start + length] = b"\x00" * length
    small = Image.frombytes("L", (side, side), bytes(grid)).convert("1")
    image = small.resize((side * module_px, side * module_px), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, dpi=(dpi, dpi))
    return out.getvalue()


def render_svg(symbol: Symbol, *, width_mm: float = 22.0, quiet_modules: int = 2) -> str:
    """A standalone vector SVG of the symbol (one path of dark runs), width_mm wide with quiet zone."""
    side = symbol.size + 2 * quiet_modules
    path = "".join(
        f"M{quiet_modules + x} {quiet_modules + y}h{length}v1h-{length}z" for y, x, length in symbol.runs()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width_mm:g}mm" '
        f'height="{width_mm:g}mm" viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        "<title>INS à scanner</title>"
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>\n'
    )
