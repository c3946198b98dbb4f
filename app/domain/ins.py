"""The INS: matricule (NIR or NIA + key) and the OID of its assigning authority (ins-rniv §1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.domain.errors import InvalidMatricule, RuleViolation
from app.domain.messages import register

OID_NIR = "1.2.250.1.213.1.4.8"
OID_NIA = "1.2.250.1.213.1.4.9"
OID_NIR_TEST = "1.2.250.1.213.1.4.10"
OID_NIR_DEMO = "1.2.250.1.213.1.4.11"
OID_INS_C = "1.2.250.1.213.1.4.2"


class Nature(StrEnum):
    """Whether the matricule is a NIR or a temporary NIA."""

    NIR = "NIR"
    NIA = "NIA"


class Usage(StrEnum):
    """Real, test or demonstration patient (printed on documents)."""

    REAL = "REAL"
    TEST = "TEST"
    DEMO = "DEMO"


# OID -> (nature, usage) for the OIDs that an active INS may carry.
KNOWN_OIDS: dict[str, tuple[Nature, Usage]] = {
    OID_NIR: (Nature.NIR, Usage.REAL),
    OID_NIA: (Nature.NIA, Usage.REAL),
    OID_NIR_TEST: (Nature.NIR, Usage.TEST),
    OID_NIR_DEMO: (Nature.NIR, Usage.DEMO),
}

_NIR13 = re.compile(r"^[1-478]\d{4}(?:\d{2}|2[AB])\d{6}$")


def nir_key(nir13: str) -> int:
    """Key = 97 - (N mod 97), 2A read as 19 and 2B as 18 (ins-rniv §1)."""
    digits = nir13.upper()
    if digits[5:7] == "2A":
        digits = digits[:5] + "19" + digits[7:]
    elif digits[5:7] == "2B":
        digits = digits[:5] + "18" + digits[7:]
    return 97 - int(digits) % 97


def check_matricule(matricule: str) -> str:
    """A matricule INS is 13 characters + a 2-digit key that matches (ins-rniv §1)."""
    text = matricule.strip().upper().replace(" ", "") if isinstance(matricule, str) else ""
    if len(text) != 15:
        raise InvalidMatricule("matricule-length", field="matricule")
    body, key = text[:13], text[13:]
    if not _NIR13.fullmatch(body) or not key.isdigit():
        raise InvalidMatricule("matricule-shape", field="matricule")
    if int(key) != nir_key(body):
        raise InvalidMatricule("matricule-key", field="matricule")
    return text


def check_oid(oid: str) -> tuple[Nature, Usage]:
    """Only the INS-NIR / INS-NIA OIDs (real, test, demo) are accepted for an INS (ins-rniv §1)."""
    if oid == OID_INS_C:
        raise InvalidMatricule("oid-ins-c", field="oid")
    try:
        return KNOWN_OIDS[oid]
    except KeyError:
        raise InvalidMatricule("oid-unknown", field="oid", oid=str(oid)[:40]) from None


@dataclass(frozen=True, slots=True)
class Ins:
    """A validated matricule INS with its OID."""

    matricule: str
    oid: str

    @classmethod
    def of(cls, matricule: str, oid: str) -> Ins:
        """Validate and build an INS."""
        checked = check_matricule(matricule)
        check_oid(oid)
        return cls(checked, oid)

    @property
    def nature(self) -> Nature:
        """NIR or NIA, from the OID."""
        return KNOWN_OIDS[self.oid][0]

    @property
    def usage(self) -> Usage:
        """Real, test or demonstration patient, from the OID."""
        return KNOWN_OIDS[self.oid][1]


@dataclass(frozen=True, slots=True)
class InsRecord:
    """An INS as held by an identity: active or kept in history, with its dates and source."""

    ins: Ins
    active: bool
    source: str
    valid_from: date | None = None
    valid_to: date | None = None


register(
    "ins-held-elsewhere",
    "This INS is already the active INS of identity {other}: possible duplicate or collision.",
    "Cet INS est déjà l'INS actif de l'identité {other} : doublon ou collision possible.",
)


def check_not_held_elsewhere(holder: int | None, identity_id: int, *, field: str | None = None) -> None:
    """Two active identities never hold the same matricule INS: a duplicate or a collision (ins-rniv §6)."""
    if holder is not None and holder != identity_id:
        raise RuleViolation("ins-held-elsewhere", field=field, rule="ins-rniv §6", other=holder)
