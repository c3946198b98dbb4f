"""INSi teleservice: the port (gateway Protocol), its queries, answers and typed errors.

Pure: the zeep client in ``app.integrations.insi`` implements ``InsiGateway``; services and
workflows depend on this module only. A fault, a timeout or a TLS error is never an answer: it
is an ``InsiError`` whose ``category`` says what the caller can do (insi.md "Faults").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from app.domain.errors import DomainError
from app.domain.messages import register
from app.domain.traits import derive_first_name

register(
    "insi-configuration",
    "INSi refused this installation's configuration ({detail}): the administrator must fix it. Do not retry.",
    "L'INSi refuse la configuration de cette installation ({detail}) : l'administrateur doit "
    "la corriger. Ne pas réessayer.",
)
register(
    "insi-unavailable",
    "The INSi service is temporarily unavailable ({detail}): try again in a few minutes.",
    "Le téléservice INSi est momentanément indisponible ({detail}) : réessayez dans quelques minutes.",
)
register(
    "insi-timeout",
    'INSi did not answer within {seconds} s (configured: read timeout {read_timeout} s, whole call '
    '{total} s): try again later (this is not a "not found").',
    "L'INSi n'a pas répondu en {seconds} s (réglages : délai de lecture {read_timeout} s, appel "
    "complet {total} s) : réessayez plus tard (ce n'est pas un « non trouvé »).",
)
register(
    "insi-tls",
    "The secure connection to INSi failed ({detail}): the administrator must check the certificates.",
    "La connexion sécurisée à l'INSi a échoué ({detail}) : l'administrateur doit vérifier les certificats.",
)
register(
    "insi-technical",
    'INSi reported a technical error ({detail}): try again later (this is not a "not found").',
    "L'INSi a signalé une erreur technique ({detail}) : réessayez plus tard (ce n'est pas un "
    "« non trouvé »).",
)


class InsiOperation(StrEnum):
    """The two operations of the contract (a verification is a traits search, see insi_rules)."""

    TRAITS = "rechercherInsAvecTraitsIdentite"
    VITALE = "rechercherInsAvecCarteVitale"


class CredentialMode(StrEnum):
    """How the call is authenticated (insi.md "Credentials")."""

    SERVER_CERTIFICATE = "server-certificate"
    CARD = "card"
    RELAYED_ASSERTION = "relayed-assertion"
    SIMULATOR = "simulator"  # development only: the local simulator over plain HTTP


class CallPurpose(StrEnum):
    """Calls made for a person use the INSI-MANU certificate, unattended ones INSI-AUTO."""

    ATTENDED = "attended"
    UNATTENDED = "unattended"


class CrCode(StrEnum):
    """CodeCR of the answer."""

    FOUND = "00"
    NOT_FOUND = "01"
    SEVERAL = "02"


class FaultCategory(StrEnum):
    """What the caller can do about an INSi error."""

    CONFIGURATION = "configuration"  # alert the operator, do not retry
    UNAVAILABLE = "unavailable"  # transient: retry later
    TECHNICAL = "technical"  # technical error: retry later, never "not found"


@dataclass(frozen=True, slots=True)
class TraitsQuery:
    """A search by traits: birth name, birth first names sent, sex, birth date, birth place."""

    birth_name: str
    first_names: tuple[str, ...]
    sex: str
    birth_date: date
    birth_place_code: str | None = None


@dataclass(frozen=True, slots=True)
class Matricule:
    """A 13-character NIR/NIA with its 2-digit key, as the wire carries it."""

    number: str
    key: str
    kind: str | None = None

    @property
    def matricule(self) -> str:
        """The 15-character matricule INS."""
        return self.number + self.key


@dataclass(frozen=True, slots=True)
class VitaleQuery:
    """A search with the data of the Carte Vitale read at the desk (+ its relayed assertion)."""

    insured: Matricule
    birth_name: str
    birth_date: str  # YYYY-MM-DD as read; may be a "lunar" date (00 day or month)
    birth_rank: int = 1
    beneficiary: Matricule | None = None
    vitale_assertion: bytes | None = None


@dataclass(frozen=True, slots=True)
class InsEntry:
    """One INS of an answer (INSACTIF or INSHISTO): matricule, OID and dates as sent."""

    matricule: Matricule
    oid: str
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnedTraits:
    """The TIQ block: the INS traits as INSi returns them."""

    birth_name: str
    first_names: str
    sex: str
    birth_date: str
    birth_place_code: str | None
    first_name: str | None = None

    @property
    def first_birth_first_name(self) -> str:
        """The first word of ListePrenom (insi.md)."""
        return derive_first_name(self.first_names) if self.first_names else ""


@dataclass(frozen=True, slots=True)
class InsiAnswer:
    """A RESULTAT: code, label, and for 00 the active INS, its history and the traits."""

    code: CrCode
    label: str
    message_id: str
    active: InsEntry | None = None
    history: tuple[InsEntry, ...] = ()
    traits: ReturnedTraits | None = None


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who asked: a person (token subject) or a job (campaign id), and for which identity."""

    requested_by: str
    purpose: CallPurpose = CallPurpose.ATTENDED
    identity_id: int | None = None
    relayed_assertion: bytes | None = None


class Verdict(StrEnum):
    """Outcome of verifying a stored INS."""

    CONFIRMED = "confirmed"
    DIFFERENT_INS = "different-ins"
    TRAITS_DIFFER = "traits-differ"
    NOT_FOUND = "not-found"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Verification:
    """A verification verdict with the answer it was drawn from and the differing traits."""

    verdict: Verdict
    answer: InsiAnswer
    differing_traits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One search of the CR 02 strategy: what was added, and the code received."""

    step: str
    code: CrCode


@dataclass(frozen=True, slots=True)
class ResolvedSearch:
    """The final answer of the CR 02 strategy and every attempt made."""

    answer: InsiAnswer
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class InsiCallRecord:
    """One wire call, as the journal keeps it: no traits in clear, only a keyed hash."""

    at: datetime
    operation: InsiOperation
    credential_mode: CredentialMode
    emitter: str
    requested_by: str
    identity_id: int | None
    outcome: str  # CodeCR, or the error's journal code
    error_category: FaultCategory | None
    duration_ms: float
    message_id: str
    traits_hash: str | None = None
    purpose: CallPurpose = CallPurpose.ATTENDED


class InsiCallObserver(Protocol):
    """Receives every call record (the journal)."""

    def __call__(self, record: InsiCallRecord) -> None:
        """Record one call."""
        ...


class InsiGateway(Protocol):
    """The INSi teleservice as services see it."""

    def search_by_traits(self, query: TraitsQuery, context: CallContext) -> InsiAnswer:
        """Search by traits (rechercherInsAvecTraitsIdentite)."""
        ...

    def search_by_vitale(self, query: VitaleQuery, context: CallContext) -> InsiAnswer:
        """Search with Carte Vitale data (rechercherInsAvecCarteVitale)."""
        ...


class InsiError(DomainError):
    """The INSi call failed: never an answer, never "no identity found"."""

    code = "insi-error"
    category = FaultCategory.TECHNICAL

    def __init__(
        self,
        code: str | None = None,
        *,
        fault_code: str | None = None,
        detail_code: str | None = None,
        message_id: str | None = None,
        **params: Any,
    ) -> None:
        self.fault_code = fault_code
        self.detail_code = detail_code
        self.message_id = message_id
        super().__init__(code, **params)

    @property
    def retryable(self) -> bool:
        """Whether asking again later may succeed."""
        return self.category is not FaultCategory.CONFIGURATION

    @property
    def journal_code(self) -> str:
        """What the journal records: the detail code, else the subcode, else the error code."""
        return self.detail_code or self.fault_code or self.code


class InsiConfigurationError(InsiError):
    """Our side is misconfigured (IDAM, certificate, WSDL): alert the operator, do not retry."""

    code = "insi-configuration"
    category = FaultCategory.CONFIGURATION


class InsiUnavailable(InsiError):
    """The service is temporarily unavailable: retry later."""

    code = "insi-unavailable"
    category = FaultCategory.UNAVAILABLE


class InsiTimeout(InsiUnavailable):
    """No complete answer within the call's deadline (params: seconds waited, read_timeout, total)."""

    code = "insi-timeout"


class InsiTlsError(InsiError):
    """The TLS handshake failed (certificate refused, unknown authority)."""

    code = "insi-tls"
    category = FaultCategory.CONFIGURATION


class InsiTechnicalError(InsiError):
    """A technical error on the service side or an answer that cannot be read."""

    code = "insi-technical"
    category = FaultCategory.TECHNICAL
