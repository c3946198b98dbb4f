"""Local identifiers (IPP): a value is meaningful only with its assigning authority.

An IPP ``000000012`` assigned by a GAM and Identito's own IPP ``000000012`` are two different
patients' numbers. Every local identifier is therefore stored and looked up as (value, assigning
authority); Identito's own IPP domain is distinct from every sender's. An authority is the HL7
HD data type of CX-4: namespace, universal id (an OID in PAM FR) and its type; two HD name the
same authority when their universal ids are equal, or, when neither has one, their namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import RuleViolation
from app.domain.messages import register
from app.domain.traits import Traits

register(
    "identifier-no-authority",
    "{location}: the identifier does not name its assigning authority (CX-4) and none is configured "
    "for sender {sender}.",
    "{location} : l'identifiant n'indique pas son autorité d'affectation (CX-4) et aucune n'est "
    "configurée pour l'émetteur {sender}.",
)
register(
    "identifier-foreign-authority",
    "{location}: the assigning authority {authority} is neither Identito's nor the one configured "
    "for sender {sender}.",
    "{location} : l'autorité d'affectation {authority} n'est ni celle d'Identito ni celle configurée "
    "pour l'émetteur {sender}.",
)
register(
    "identifier-other-person",
    "Identifier {ipp} ({authority}) already belongs to identity {other}, whose strict traits differ "
    "({differs}): not applied, to be checked by the identitovigilance cell.",
    "L'identifiant {ipp} ({authority}) appartient déjà à l'identité {other}, dont les traits stricts "
    "diffèrent ({differs}) : non appliqué, à vérifier par la cellule d'identitovigilance.",
)


@dataclass(frozen=True, slots=True)
class Authority:
    """An assigning authority of local identifiers (HL7 HD: namespace, universal id, its type).

    The empty authority is Identito's own IPP domain, whatever its configured namespace and OID.
    """

    namespace: str = ""
    universal_id: str = ""
    universal_id_type: str = ""

    @property
    def key(self) -> str:
        """What identifies the authority in storage: its universal id, else its namespace."""
        return self.universal_id or self.namespace

    @property
    def own(self) -> bool:
        """Identito's own IPP domain."""
        return not self.key

    def names(self, other: Authority) -> bool:
        """Whether ``other`` (as received) names this authority (same universal id, else namespace)."""
        if self.universal_id and other.universal_id:
            return self.universal_id == other.universal_id
        return bool(other.namespace) and other.namespace == self.namespace and not other.universal_id

    def text(self) -> str:
        """The HD as HL7 writes it (``namespace&universal id&type``), for storage and messages."""
        return "&".join((self.namespace, self.universal_id, self.universal_id_type)).rstrip("&")

    @classmethod
    def parse(cls, text: str | None) -> Authority:
        """The authority written by ``text`` ('' or None: Identito's own)."""
        parts = [*(text or "").split("&"), "", ""][:3]
        return cls(*(p.strip() for p in parts))


OWN = Authority()


def resolve_authority(
    received: Authority, *, own: Authority, sender: str, configured: Authority | None, location: str
) -> Authority:
    """The authority a received identifier belongs to: Identito's (``OWN``) or its sender's.

    A value is never taken without an authority: an empty CX-4 takes the sender's configured
    authority, and is refused when there is none; a configured sender may name only its own
    authority or Identito's. An unconfigured sender's CX-4 is taken as it names itself.
    """
    if received.key and own.names(received):
        return OWN
    if configured is not None:
        if not received.key or configured.names(received):
            return configured
        raise RuleViolation(
            "identifier-foreign-authority", field=location, location=location, sender=sender,
            authority=received.text(),
        )
    if not received.key:
        raise RuleViolation("identifier-no-authority", field=location, location=location, sender=sender)
    return received


class IdentifierOtherPerson(RuleViolation):
    """An identifier sent as new (A28) already belongs to an identity with other strict traits."""

    code = "identifier-other-person"

    def __init__(self, *, ipp: str, authority: str, other: int, differs: list[str], location: str) -> None:
        self.other_identity_id = other
        self.differs = differs
        super().__init__(
            field=location, rule="ins-rniv §6", ipp=ipp, authority=authority or "Identito", other=other,
            differs=tuple(differs),
        )


def check_same_person(held: Traits, received: Traits) -> list[str]:
    """The strict traits that differ between a stored identity and one received as new (ins-rniv §6).

    A creation message whose identifier is already held is an update of that identity only when
    it describes the same person: every strict trait equal. Otherwise it is a collision on the
    identifier (two persons, one number), which no automatic update may resolve. Returns the
    differing trait names (empty: same person). Birth place counts only when both know it.
    """
    differs = sorted(received.strict_differences(held))
    if held.birth_place_code is None or received.birth_place_code is None:
        differs = [d for d in differs if d != "birth_place_code"]
    return differs
