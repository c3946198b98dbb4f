"""MSSanté sending rules: who is named in a sent document, and to whom it may go (mssante.md).

The rules, each citing its source:

- The INS may reference health data only for a QUAL identity (RNIV EXI SI 08); a mail without a
  qualified INS is allowed only under the MSSanté exemption (mssante.md, "What a sent mail
  contains"), then only the IPP identifies the patient and the mail says ``X-MSS-INS: N``. The
  exemption is a setting, off by default.
- Every recipient is inside the MSSanté trust space (mssante.md, "The trust space"): a configurable
  list of domains, a policy on by default. A refusal names the offending domains, never an address
  (a patient's mailbox address is its matricule INS).
- A patient's own mailbox is ``<matricule INS>@patient.mssante.fr``, derived only from the INS of a
  QUAL identity (RNIV EXI SI 08, mssante.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.ins import Ins
from app.domain.messages import register
from app.domain.status import IdentityState

PATIENT_MAILBOX_DOMAIN = "patient.mssante.fr"
DEFAULT_TRUST_DOMAINS = ("mssante.fr",)
MAX_RECIPIENTS = 100

register(
    "mss-ins-not-qualified",
    "The identity is {status}, not qualified: its INS cannot index a document sent by MSSanté "
    "(RNIV EXI SI 08). Qualify the identity first, or have the MSSanté exemption for a "
    "non-qualified identity enabled (the document is then indexed on the IPP only).",
    "L'identité est au statut {status}, non qualifiée : son INS ne peut pas indexer un document "
    "envoyé par MSSanté (RNIV EXI SI 08). Qualifiez d'abord l'identité, ou faites activer la "
    "dérogation MSSanté pour identité non qualifiée (le document est alors indexé sur l'IPP seul).",
)
register(
    "mss-no-recipient",
    "Give at least one recipient MSSanté address.",
    "Indiquez au moins une adresse MSSanté destinataire.",
)
register(
    "mss-too-many-recipients",
    "At most {max} recipients per message.",
    "Au plus {max} destinataires par message.",
)
register(
    "mss-address-malformed",
    "Recipient number {position} is not a mail address (expected name@domain).",
    "Le destinataire n° {position} n'est pas une adresse de messagerie (attendu : nom@domaine).",
)
register(
    "mss-outside-trust-space",
    "Recipients outside the MSSanté trust space ({domains}): a message goes only to MSSanté "
    "addresses (trusted domains: {trusted}). Remove them or send them separately by another means.",
    "Destinataires hors de l'espace de confiance MSSanté ({domains}) : un message ne part que vers "
    "des adresses MSSanté (domaines de confiance : {trusted}). Retirez-les ou envoyez-leur le "
    "document par un autre moyen.",
)
register(
    "mss-patient-mailbox-not-qualified",
    "The patient's MSSanté mailbox is derived from a qualified INS only: the identity is {status}.",
    "La messagerie MSSanté du patient ne se déduit que d'un INS qualifié : l'identité est au statut "
    "{status}.",
)

# A pragmatic address shape (RFC 5321 dot-atom local part, a dotted domain); quoted local parts and
# address literals are not MSSanté addresses.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^({_LOCAL})@((?:{_LABEL}\.)+{_LABEL})$")


class InsFlag(StrEnum):
    """Value of the ``X-MSS-INS`` header: a qualified INS is in the archive, or not (mssante.md)."""

    YES = "O"
    NO = "N"


class Action(StrEnum):
    """What a sending does to the document (mssante.md: metadata ``action``, transmission guide)."""

    SEND = "send"  # first sending: no action metadata
    REPLACE = "C"  # replaces a document already sent (RPLC)
    DELETE = "D"  # deletes a document already sent


@dataclass(frozen=True, slots=True)
class MssPolicy:
    """The establishment's MSSanté policy (settings ``IDENTITO_MSSANTE__*``)."""

    trust_domains: tuple[str, ...] = DEFAULT_TRUST_DOMAINS
    trust_space_only: bool = True
    unqualified_exemption: bool = False

    @classmethod
    def of(cls, trust_domains: Iterable[str], *, trust_space_only: bool = True,
           unqualified_exemption: bool = False) -> MssPolicy:
        """A policy with its domains normalised (lower case, no leading dot or @)."""
        domains = tuple(sorted({d.strip().lower().lstrip("@.") for d in trust_domains if d.strip()}))
        return cls(domains, trust_space_only, unqualified_exemption)


@dataclass(frozen=True, slots=True)
class PatientIndexing:
    """How a sent document names its patient: the INS (QUAL only) or none, and the header value."""

    ins: Ins | None
    flag: InsFlag


def patient_indexing(state: IdentityState, active_ins: Ins | None, policy: MssPolicy) -> PatientIndexing:
    """The INS indexes a document only for QUAL; else the exemption, or a refusal (RNIV EXI SI 08)."""
    if state.ins_transmissible and active_ins is not None:
        return PatientIndexing(active_ins, InsFlag.YES)
    if policy.unqualified_exemption:
        return PatientIndexing(None, InsFlag.NO)
    raise RuleViolation("mss-ins-not-qualified", rule="RNIV EXI SI 08", status=state.status.value)


def address_domain(address: str) -> str | None:
    """The lower-case domain of a well-formed address, None when it is not one."""
    match = _ADDRESS.fullmatch(address.strip()) if isinstance(address, str) else None
    return match.group(2).lower() if match else None


def in_trust_space(domain: str, trust_domains: Iterable[str]) -> bool:
    """A domain is trusted when it is a configured domain or one of its subdomains."""
    return any(domain == trusted or domain.endswith("." + trusted) for trusted in trust_domains)


def check_recipients(addresses: Sequence[str], policy: MssPolicy) -> tuple[str, ...]:
    """Well-formed recipients, all inside the trust space unless the policy says otherwise (mssante.md).

    Returns the addresses trimmed, duplicates removed (case-insensitively), in the given order.
    A refusal names the recipient's position or the offending domains, never an address.
    """
    if not addresses:
        raise InvalidTrait("mss-no-recipient", field="recipients")
    if len(addresses) > MAX_RECIPIENTS:
        raise InvalidTrait("mss-too-many-recipients", field="recipients", max=MAX_RECIPIENTS)
    kept: dict[str, str] = {}
    foreign: set[str] = set()
    for position, address in enumerate(addresses, start=1):
        domain = address_domain(address)
        if domain is None:
            raise InvalidTrait("mss-address-malformed", field="recipients", position=position)
        text = address.strip()
        kept.setdefault(text.lower(), text)
        if not in_trust_space(domain, policy.trust_domains):
            foreign.add(domain)
    if foreign and policy.trust_space_only:
        raise RuleViolation(
            "mss-outside-trust-space", field="recipients", rule="mssante.md trust space",
            domains=", ".join(sorted(foreign)), trusted=", ".join(policy.trust_domains) or "-",
        )
    return tuple(kept.values())


def patient_mailbox(state: IdentityState, active_ins: Ins | None) -> str:
    """The patient's MSSanté mailbox, ``<matricule>@patient.mssante.fr``, only for QUAL (RNIV EXI SI 08)."""
    if not state.ins_transmissible or active_ins is None:
        raise RuleViolation("mss-patient-mailbox-not-qualified", rule="RNIV EXI SI 08",
                            status=state.status.value)
    return f"{active_ins.matricule}@{PATIENT_MAILBOX_DOMAIN}"
