"""Fonts of the printed INS: DejaVu Sans, embedded (fonts-dejavu-core), or a loud fallback.

Nothing is bundled. When the DejaVu files are missing the pages use Helvetica, which is neither
embedded nor PDF/A-compatible; a warning says so once per process.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger(__name__)

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_lock = threading.Lock()
_registered: dict[Path, FontPair] = {}


@dataclass(frozen=True, slots=True)
class FontPair:
    """Regular and bold font names registered with reportlab, and whether they are embedded."""

    regular: str
    bold: str
    embedded: bool


def fonts(font_dir: Path = DEFAULT_FONT_DIR) -> FontPair:
    """Register DejaVu Sans from font_dir once; Helvetica (not embedded) when it is missing."""
    with _lock:
        if font_dir in _registered:
            return _registered[font_dir]
        name = f"IdentitoSans{len(_registered)}"
        try:
            pdfmetrics.registerFont(TTFont(name, str(font_dir / "DejaVuSans.ttf")))
            pdfmetrics.registerFont(TTFont(name + "-Bold", str(font_dir / "DejaVuSans-Bold.ttf")))
            pair = FontPair(name, name + "-Bold", True)
        except (OSError, TTFError):
            log.warning(
                "DejaVu fonts not found in %s (install fonts-dejavu-core): cover pages use "
                "Helvetica, not embedded, not PDF/A-compatible",
                font_dir,
            )
            pair = FontPair("Helvetica", "Helvetica-Bold", False)
        _registered[font_dir] = pair
        return pair
