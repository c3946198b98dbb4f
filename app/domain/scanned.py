"""A DataMatrix INS typed by a 2D barcode scanner in keyboard mode ("douchette", keyboard wedge),
and what the desk may do with it (datamatrix-ins.md, "Decoding is the mirror").

A scanner types the symbol's content as keystrokes, then Enter. The group separator (GS, 0x1D)
has no key: scanners send it as Ctrl+] (the page turns it back into GS), as a substitute text that
they are configured to send (``<GS>``, ``{GS}``, ``^]``, the picture ``␝``), or not at all. Some
also prefix the AIM symbology identifier (``]d2`` for a Data Matrix). Without any separator the
fields are still told apart: names (S3, S4) hold no digit and the OID (S2) no letter, so a
variable field ends where the next identifier ``S1``..``S7`` begins.
"""

from __future__ import annotations

import re
from enum import StrEnum

from app.domain.cover_page import Comparison
from app.domain.datamatrix import FIELD_LENGTHS, GS, HEADER
from app.domain.status import Status

GS_SUBSTITUTES = ("<GS>", "{GS}", "[GS]", "<gs>", "^]", "\u241d")
_AIM_PREFIX = re.compile(r"^\][dD][0-9]")
_NEXT_FIELD = re.compile(r"S[1-7]")


def typed_payload(typed: str) -> str:
    """The payload as the symbol holds it, from what a keyboard-mode scanner typed."""
    text = _AIM_PREFIX.sub("", typed.strip(" \t\r\n"))
    for substitute in GS_SUBSTITUTES:
        text = text.replace(substitute, GS)
    if GS not in text and text.startswith(HEADER):
        return HEADER + _restore_separators(text[len(HEADER):])
    return text


def _restore_separators(body: str) -> str:
    """Put a GS after each variable field that is not last; unknown shapes are left to the parser."""
    parts: list[str] = []
    position = 0
    while position < len(body):
        key = body[position:position + 2]
        if key not in FIELD_LENGTHS:
            return body
        low, high = FIELD_LENGTHS[key]
        start = position + 2
        if low == high:
            end = min(start + high, len(body))
        else:
            found = _NEXT_FIELD.search(body, start + low)
            end = found.start() if found and found.start() <= start + high else min(start + high, len(body))
        parts.append(body[position:end])
        if low != high and end < len(body):
            parts.append(GS)
        position = end
    return "".join(parts)


class DeskScanOutcome(StrEnum):
    """What the desk does with a scanned DataMatrix INS."""

    OPEN = "open"  # the active INS of an open QUAL identity with the printed traits: open it
    INVALID = "invalid"  # not a DataMatrix INS content
    UNKNOWN_INS = "unknown_ins"  # no identity holds this matricule, active or historic
    CLOSED = "closed"  # held by an identity merged into another one
    DIFFERS = "differs"  # the printed traits are not the identity's
    HISTORIC_INS = "historic_ins"  # a previous INS of the identity (INSHISTO), not its active one
    NOT_QUALIFIED = "not_qualified"  # the identity is not QUAL: its INS may not be used


def desk_scan_outcome(comparison: Comparison, found_by_active: bool, status: Status | None,
                      active: bool) -> DeskScanOutcome:
    """A scanned INS opens a patient only as the active INS of an open QUAL identity whose strict
    traits are the printed ones (RNIV EXI SI 08: only a qualified INS is used)."""
    if comparison is Comparison.UNKNOWN_INS or status is None:
        return DeskScanOutcome.UNKNOWN_INS
    if not active:
        return DeskScanOutcome.CLOSED
    if comparison is Comparison.DIFFERS:
        return DeskScanOutcome.DIFFERS
    if not found_by_active:
        return DeskScanOutcome.HISTORIC_INS
    if status is not Status.QUAL:
        return DeskScanOutcome.NOT_QUALIFIED
    return DeskScanOutcome.OPEN
