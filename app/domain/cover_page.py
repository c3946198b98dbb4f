"""What an INS cover page or DataMatrix may show, and when it may exist at all (datamatrix-ins.md).

``CoverPageData`` is the boundary between the use cases and the renderers: plain values only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.domain.datamatrix import InsPayload, build_payload
from app.domain.errors import DomainError, RuleViolation
from app.domain.ins import Ins, Usage
from app.domain.messages import register, register_terms
from app.domain.status import BLOCKING_ATTRIBUTES, IdentityState, Status
from app.domain.traits import Traits


class Missing(StrEnum):
    """What an identity lacks before its INS may be printed."""

    INSI = "insi"  # traits retrieved from / checked against INSi
    DOCUMENT = "document"  # high-trust identity document checked
    INS = "ins"  # an active INS


class DocumentRejected(DomainError):
    """An uploaded file is not a readable, unencrypted PDF or image (HTTP 422)."""

    code = "document-rejected"


class DocumentTooLarge(DomainError):
    """An uploaded file is larger than the configured limit (HTTP 413)."""

    code = "document-too-large"


register(
    "ins-not-qualified",
    "The INS is printed only for a qualified identity (status {status}; missing: {missing}).",
    "L'INS n'est imprimé que pour une identité qualifiée (statut {status} ; manque : {missing}).",
)
register_terms({
    "insi": "identité récupérée ou vérifiée auprès de l'INSi",
    "document": "justificatif d'identité à haut niveau de confiance",
    "ins": "INS actif",
}, parameter="missing")
register(
    "ins-blocked-attribute",
    "The identity is marked {attribute}: its INS is never printed.",
    "L'identité est {attribute} : son INS n'est jamais imprimé.",
)
register(
    "document-rejected",
    "The file cannot be used: {reason}.",
    "Le fichier ne peut pas être utilisé : {reason}.",
)
register(
    "document-too-large",
    "The file is larger than {limit} bytes.",
    "Le fichier dépasse {limit} octets.",
)


def check_ins_printable(state: IdentityState, active_ins: Ins | None) -> Ins:
    """Only a QUAL identity with an active INS has its INS printed (RNIV EXI SI 08, Guide EXI DIF 02)."""
    blocking = sorted(state.attributes & BLOCKING_ATTRIBUTES)
    if blocking:
        raise RuleViolation("ins-blocked-attribute", rule="RNIV EXI SI 08", attribute=blocking[0].value)
    missing = missing_to_qualify(state.status, active_ins is not None)
    if missing or active_ins is None:
        raise RuleViolation(
            "ins-not-qualified",
            rule="RNIV EXI SI 08",
            status=state.status.value,
            missing=[m.value for m in missing],
            missing_list=[m.value for m in missing],
        )
    return active_ins


def missing_to_qualify(status: Status, has_active_ins: bool) -> list[Missing]:
    """The facts an identity lacks to be QUAL with an active INS (RNIV EXI SI 07)."""
    missing = []
    if status in (Status.PROV, Status.VALI):
        missing.append(Missing.INSI)
    if status in (Status.PROV, Status.RECUP):
        missing.append(Missing.DOCUMENT)
    if not has_active_ins:
        missing.append(Missing.INS)
    return missing


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What the covered document is, when the caller says so (all optional)."""

    title: str | None = None
    document_date: date | None = None
    author: str | None = None
    establishment: str | None = None


@dataclass(frozen=True, slots=True)
class CoverPageData:
    """Everything a cover page shows: the INS, the traits, the document, nothing else."""

    ins: Ins
    traits: Traits
    payload: str
    establishment_name: str
    birth_place_name: str | None = None
    document: DocumentInfo = DocumentInfo()

    @property
    def usage_label(self) -> str | None:
        """TEST or DÉMO for the fictitious-patient OIDs, None for a real patient."""
        return {Usage.TEST: "TEST", Usage.DEMO: "DÉMO"}.get(self.ins.usage)

    @property
    def show_used_name(self) -> bool:
        """The used name is printed only when it differs from the birth name."""
        return self.traits.shown_used_name is not None

    @property
    def show_used_first_name(self) -> bool:
        """The used first name is printed only when it differs from the first birth first name."""
        used = self.traits.used_first_name
        return used is not None and used != self.traits.first_name


def cover_page_data(
    state: IdentityState,
    active_ins: Ins | None,
    traits: Traits,
    *,
    establishment_name: str,
    birth_place_name: str | None = None,
    document: DocumentInfo | None = None,
) -> CoverPageData:
    """Cover page content for an identity, refused unless it is QUAL (RNIV EXI SI 08, Guide EXI DIF 02)."""
    ins = check_ins_printable(state, active_ins)
    payload = build_payload(InsPayload.of(ins, traits))
    return CoverPageData(
        ins=ins,
        traits=traits,
        payload=payload,
        establishment_name=establishment_name,
        birth_place_name=birth_place_name,
        document=document or DocumentInfo(),
    )


@dataclass(frozen=True, slots=True)
class StampedDocument:
    """A PDF with the cover page prepended; whether page 1 also got the INS block."""

    pdf: bytes
    first_page_stamped: bool
    signed: bool


class Comparison(StrEnum):
    """How the traits printed on a document compare with the repository's."""

    SAME = "same"
    DIFFERS = "differs"
    UNKNOWN_INS = "unknown_ins"


def compare_printed(printed: InsPayload, stored: Traits | None) -> tuple[Comparison, list[str]]:
    """Compare a decoded payload with the identity found by its INS (None: no identity)."""
    if stored is None:
        return Comparison.UNKNOWN_INS, []
    differences = printed.differences(stored)
    return (Comparison.DIFFERS if differences else Comparison.SAME), differences
