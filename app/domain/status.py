"""RNIV identity status and attributes, and the transitions between them.

Two independent facts decide the status (RNIV EXI SI 07): I = traits retrieved from / checked
against INSi, C = traits checked against a high-trust identity document. The attributes DOUT and
FICT force PROV and forbid INSi (RNIV EXI SI 09). ``IdentityState`` refuses to exist in a
forbidden state, so no sequence of operations can produce one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from app.domain.errors import MissingReason, RuleViolation


class Status(StrEnum):
    """The four RNIV identity statuses."""

    PROV = "PROV"
    RECUP = "RECUP"
    VALI = "VALI"
    QUAL = "QUAL"


class Attribute(StrEnum):
    """RNIV identity attributes (EXI SI 09)."""

    DOUT = "DOUT"
    FICT = "FICT"
    HOMA = "HOMA"


BLOCKING_ATTRIBUTES = frozenset({Attribute.DOUT, Attribute.FICT})


def status_of(insi: bool, document: bool) -> Status:
    """Status from the two facts I and C (RNIV EXI SI 07)."""
    if insi:
        return Status.QUAL if document else Status.RECUP
    return Status.VALI if document else Status.PROV


def facts_of(status: Status) -> tuple[bool, bool]:
    """The facts (I, C) that a status stands for."""
    return status in (Status.RECUP, Status.QUAL), status in (Status.VALI, Status.QUAL)


def check_attributes(attributes: Iterable[Attribute]) -> frozenset[Attribute]:
    """DOUT and FICT exclude each other; FICT combines with nothing; only DOUT+HOMA (EXI SI 09)."""
    attrs = frozenset(attributes)
    if Attribute.DOUT in attrs and Attribute.FICT in attrs:
        raise RuleViolation("attributes-dout-fict", rule="RNIV EXI SI 09")
    if Attribute.FICT in attrs and Attribute.HOMA in attrs:
        raise RuleViolation("attributes-fict-homa", rule="RNIV EXI SI 09")
    return attrs


class Event(StrEnum):
    """What a transition did, for the audit trail and the outbound flows."""

    STATUS_CHANGED = "status_changed"
    INS_DEACTIVATED = "ins_deactivated"
    DOCUMENTS_SET_ASIDE = "documents_set_aside"
    ATTRIBUTE_SET = "attribute_set"
    ATTRIBUTE_REMOVED = "attribute_removed"


@dataclass(frozen=True, slots=True)
class IdentityState:
    """Status facts and attributes of one identity; only allowed combinations can be built."""

    insi: bool = False
    document: bool = False
    attributes: frozenset[Attribute] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        check_attributes(self.attributes)
        if self.blocked and (self.insi or self.document):
            raise RuleViolation("blocked-must-be-prov", rule="RNIV EXI SI 09")

    @classmethod
    def of(cls, status: Status, attributes: Iterable[Attribute] = ()) -> IdentityState:
        """Rebuild a state from a stored status and attributes (refusing forbidden ones)."""
        insi, document = facts_of(status)
        return cls(insi, document, frozenset(attributes))

    @property
    def status(self) -> Status:
        """The status the two facts give (RNIV EXI SI 07)."""
        return status_of(self.insi, self.document)

    @property
    def blocked(self) -> bool:
        """DOUT or FICT: status PROV, INSi forbidden, INS invalidated (RNIV EXI SI 09)."""
        return bool(self.attributes & BLOCKING_ATTRIBUTES)

    @property
    def ins_transmissible(self) -> bool:
        """Only a QUAL identity may reference health data with its INS (RNIV EXI SI 08)."""
        return self.status is Status.QUAL

    def _moved(self, **changes: object) -> tuple[IdentityState, list[Event]]:
        new = replace(self, **changes)  # type: ignore[arg-type]
        events = [Event.STATUS_CHANGED] if new.status is not self.status else []
        if self.insi and not new.insi:
            events.append(Event.INS_DEACTIVATED)
        return new, events

    def _check_not_blocked(self, code: str) -> None:
        """Refuse an INSi or document fact on a DOUT/FICT identity (RNIV EXI SI 09)."""
        if self.blocked:
            attribute = sorted(self.attributes & BLOCKING_ATTRIBUTES)[0]
            raise RuleViolation(code, rule="RNIV EXI SI 09", attribute=attribute)

    def check_insi_allowed(self) -> None:
        """INSi calls are impossible for DOUT/FICT identities (RNIV EXI SI 09, ins-rniv §7)."""
        self._check_not_blocked("insi-forbidden-attribute")

    def insi_retrieved(self) -> tuple[IdentityState, list[Event]]:
        """Traits accepted from INSi: PROV -> RECUP, VALI -> QUAL (RNIV EXI SI 07)."""
        self.check_insi_allowed()
        return self._moved(insi=True)

    def qualified_by_referential(self) -> tuple[IdentityState, list[Event]]:
        """A trusted identity referential sent the identity VALI with its INS: both facts, QUAL
        (Guide INS v3.0 §2.2.2: VALI + INS is qualified); refused for DOUT/FICT (RNIV EXI SI 09)."""
        self._check_not_blocked("insi-forbidden-attribute")
        return self._moved(insi=True, document=True)

    def insi_lost(self) -> tuple[IdentityState, list[Event]]:
        """INSi fact dropped (verification failed): RECUP -> PROV, QUAL -> VALI (RNIV EXI SI 07)."""
        return self._moved(insi=False)

    def strict_trait_edited(
        self, *, document_checked: bool = False, reason: str | None = None
    ) -> tuple[IdentityState, list[Event]]:
        """A strict-trait change: I drops (EXI REC 07); C stays only with a high-trust document checked
        and recorded with the change; a RECUP/VALI/QUAL identity needs a reason (ins-rniv §3).

        A status states facts about the current traits: the INSi fact and the document checks were
        about the old ones. The standing document checks are set aside; a document checked with
        the change (``document_checked``: high-trust, valid) is the new C.
        """
        if self.status is not Status.PROV and not (reason and reason.strip()):
            raise MissingReason(field="reason", why="strict-change")
        if document_checked:
            self._check_not_blocked("document-on-blocked")
        new, events = self._moved(insi=False, document=document_checked)
        if self.document:
            events.append(Event.DOCUMENTS_SET_ASIDE)
        return new, events

    def document_checked(self, high_trust: bool) -> tuple[IdentityState, list[Event]]:
        """A high-trust document check moves PROV -> VALI, RECUP -> QUAL (RNIV EXI SI 07/10)."""
        self._check_not_blocked("document-on-blocked")
        if not high_trust:
            return self, []
        return self._moved(document=True)

    def document_withdrawn(self, other_valid_document: bool) -> tuple[IdentityState, list[Event]]:
        """Withdrawing the only valid document check drops C (ins-rniv §3)."""
        if other_valid_document:
            return self, []
        return self._moved(document=False)

    def attribute_set(self, attribute: Attribute) -> tuple[IdentityState, list[Event]]:
        """Set an attribute; DOUT/FICT force PROV and invalidate the INS (RNIV EXI SI 09)."""
        if attribute in self.attributes:
            return self, []
        attrs = check_attributes(self.attributes | {attribute})
        if attribute in BLOCKING_ATTRIBUTES:
            new, events = self._moved(insi=False, document=False, attributes=attrs)
            if self.document:
                events.append(Event.DOCUMENTS_SET_ASIDE)
        else:
            new, events = self._moved(attributes=attrs)
        return new, [Event.ATTRIBUTE_SET, *events]

    def attribute_removed(self, attribute: Attribute) -> tuple[IdentityState, list[Event]]:
        """Remove an attribute; the status stays PROV until checked again (RNIV EXI SI 09)."""
        if attribute not in self.attributes:
            raise RuleViolation("attribute-absent", attribute=attribute.value)
        return self._moved(attributes=self.attributes - {attribute})[0], [Event.ATTRIBUTE_REMOVED]
