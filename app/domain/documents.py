"""Identity documents checked at the desk and whether they are high-trust (ins-rniv §5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from app.domain.errors import InvalidTrait, RuleViolation


class DocumentType(StrEnum):
    """Identity document codes (PAM ZFD-7, FR Core validation mode)."""

    CN = "CN"
    PA = "PA"
    CS = "CS"
    AN = "AN"
    LE = "LE"
    AC = "AC"
    DC = "DC"
    IE = "IE"
    TC = "TC"
    PC = "PC"
    CM = "CM"
    CC = "CC"
    CE = "CE"


# Documents that are never high-trust, whatever the establishment's list says (ins-rniv §5).
NEVER_HIGH_TRUST = frozenset({DocumentType.PC, DocumentType.CM, DocumentType.CC, DocumentType.CE})
# Default accepted high-trust list: the unconditional ones (AN/LE/AC/DC/TC need a local procedure).
DEFAULT_HIGH_TRUST = frozenset(
    {DocumentType.CN, DocumentType.PA, DocumentType.CS, DocumentType.IE}
)


def parse_document_type(code: str) -> DocumentType:
    """The agent must pick the type explicitly; there is no default (RNIV EXI SI 23)."""
    if not isinstance(code, str) or not code.strip():
        raise InvalidTrait("document-type-missing", field="type")
    try:
        return DocumentType(code.strip().upper())
    except ValueError:
        raise InvalidTrait(
            "document-type-unknown", field="type", value=code[:10], valid=", ".join(DocumentType)
        ) from None


def accepted_high_trust(codes: Iterable[str]) -> frozenset[DocumentType]:
    """The establishment's configured high-trust list, minus what never is (EXI SI 10)."""
    types = frozenset(parse_document_type(code) for code in codes)
    bad = sorted(types & NEVER_HIGH_TRUST)
    if bad:
        raise ValueError(f"document types {', '.join(bad)} can never be high-trust (ins-rniv §5)")
    return types


def check_document(
    doc_type: DocumentType, expires_on: date | None, today: date, accepted: frozenset[DocumentType]
) -> bool:
    """Whether recording this document validates the identity; an expired one is refused (EXI SI 10)."""
    if expires_on is not None and expires_on < today:
        raise RuleViolation("document-expired", field="expires_on", rule="RNIV EXI SI 10")
    return doc_type in accepted


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """A recorded check of an identity document (who, when, type, expiry, withdrawal)."""

    id: int
    identity_id: int
    type: str
    high_trust: bool
    checked_by: str
    checked_at: datetime
    expires_on: date | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None
