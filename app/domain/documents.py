"""Identity documents checked at the desk and whether they are high-trust (ins-rniv §5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.messages import register


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


# Documents that print an expiry date: the agent types it, or answers explicitly that none is
# printed (old identity cards, some residence permits). Birth extracts, family books and a trusted
# third party carry none (ins-rniv §5).
WITH_EXPIRY = frozenset(
    {DocumentType.CN, DocumentType.PA, DocumentType.CS, DocumentType.DC, DocumentType.IE,
     DocumentType.PC, DocumentType.CM, DocumentType.CC, DocumentType.CE}
)

register(
    "document-expiry-required",
    "A {type} prints an expiry date: give it, or say that none is printed.",
    "Un justificatif de type {type} porte une date d'expiration : saisissez-la, ou indiquez qu'aucune "
    "n'est imprimée.",
)
register(
    "document-expiry-contradiction",
    "Give either the expiry date or \"no expiry printed\", not both.",
    "Indiquez soit la date d'expiration, soit « aucune date imprimée », pas les deux.",
)
register(
    "document-already-recorded",
    "This document ({type}) is already recorded for this identity (check {ident}).",
    "Ce justificatif ({type}) est déjà enregistré pour cette identité (contrôle {ident}).",
)


def check_document(
    doc_type: DocumentType, expires_on: date | None, today: date, accepted: frozenset[DocumentType],
    *, no_expiry_printed: bool = False,
) -> bool:
    """Whether recording this document validates the identity (EXI SI 10): an expired one is
    refused, and a type that prints an expiry date needs it or an explicit "none printed"."""
    if expires_on is not None and no_expiry_printed:
        raise InvalidTrait("document-expiry-contradiction", field="expires_on")
    if expires_on is None and not no_expiry_printed and doc_type in WITH_EXPIRY:
        raise InvalidTrait("document-expiry-required", field="expires_on", type=doc_type.value)
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
    no_expiry_printed: bool = False

    def counts(self, today: date) -> bool:
        """Whether this check still stands for C: high-trust, not withdrawn, not expired (ins-rniv §3/§5)."""
        return (self.high_trust and self.withdrawn_at is None
                and (self.expires_on is None or self.expires_on >= today))

    def same_document(self, doc_type: str, expires_on: date | None) -> bool:
        """Whether a new check would record this same, still recorded document again (EXI SI 10)."""
        return self.withdrawn_at is None and self.type == doc_type and self.expires_on == expires_on


def check_not_recorded(
    checks: Iterable[DocumentCheck], doc_type: DocumentType, expires_on: date | None
) -> None:
    """The same active document is not recorded twice (RNIV EXI SI 10: one check, one record)."""
    same = next((c for c in checks if c.same_document(doc_type.value, expires_on)), None)
    if same is not None:
        raise RuleViolation("document-already-recorded", type=doc_type.value, ident=same.id,
                            rule="RNIV EXI SI 10")


def any_counts(checks: Iterable[DocumentCheck], today: date, *, except_id: int | None = None) -> bool:
    """Whether a check other than ``except_id`` still stands for C (ins-rniv §3)."""
    return any(c.counts(today) for c in checks if c.id != except_id)
