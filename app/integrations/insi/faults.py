"""INSi fault codes mapped to typed errors (insi.md "Faults").

The detail code (siram:Erreur/@code) is the most precise and is looked up first, then the SOAP
subcode. Anything unknown is a technical error: never "no identity found".
"""

from __future__ import annotations

from app.domain.insi import (
    InsiConfigurationError,
    InsiError,
    InsiTechnicalError,
    InsiUnavailable,
)

# detail code (lower case) -> error class; the meaning column of insi.md in the comment.
DETAIL_CODES: dict[str, type[InsiError]] = {
    "desir_550": InsiConfigurationError,  # unknown software authorisation number (IDAM)
    "desir_560": InsiConfigurationError,  # certificate not allowed (CN not INSI-AUTO/INSI-MANU)
    "desir_1020": InsiUnavailable,  # service temporarily unavailable
    "insi_102": InsiTechnicalError,  # technical error in the traits search
}

SUBCODES: dict[str, type[InsiError]] = {
    "siram_100": InsiConfigurationError,
    "siram_40": InsiUnavailable,
}


def error_class(subcode: str | None, detail_code: str | None) -> type[InsiError]:
    """The typed error of a fault, by detail code then subcode."""
    if detail_code and detail_code.lower() in DETAIL_CODES:
        return DETAIL_CODES[detail_code.lower()]
    if subcode and subcode.lower() in SUBCODES:
        return SUBCODES[subcode.lower()]
    return InsiTechnicalError


def error_from_fault(
    *,
    soap_code: str | None,
    subcode: str | None,
    detail_code: str | None,
    reason: str,
    message_id: str,
) -> InsiError:
    """Build the typed error; ``detail`` names the codes, ``reason`` keeps the server's text."""
    cls = error_class(subcode, detail_code)
    codes = "/".join(c for c in (subcode, detail_code) if c) or (soap_code or "fault")
    error = cls(
        detail=codes,
        fault_code=subcode,
        detail_code=detail_code,
        message_id=message_id,
        reason=reason[:500],
    )
    error.soap_code = soap_code  # type: ignore[attr-defined]
    return error
