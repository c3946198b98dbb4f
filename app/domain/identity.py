"""The identity aggregate: traits, RNIV state, INS and its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.identifiers import OWN, Authority
from app.domain.ins import Ins, InsRecord
from app.domain.messages import register
from app.domain.roles import Actor
from app.domain.status import Attribute, IdentityState, Status
from app.domain.traits import Traits

register(
    "collection-method-unknown",
    "Unknown collection method {value}: use SM (typed), CV (Carte Vitale), INSI (teleservice), "
    "CB (DataMatrix scan) or RFID.",
    "Mode d'obtention inconnu {value} : utilisez SM (saisie), CV (carte Vitale), INSI (téléservice), "
    "CB (lecture du DataMatrix) ou RFID.",
)
register(
    "identity-merged",
    "Identity {ident} was merged into identity {survivor}: it is closed, work on identity {survivor}.",
    "L'identité {ident} a été fusionnée dans l'identité {survivor} : elle est close, travaillez sur "
    "l'identité {survivor}.",
)


class CollectionMethod(StrEnum):
    """How the identity's current traits were collected (PAM FR ZFD-5, FR Core methodCollection)."""

    SM = "SM"  # typed by hand
    CV = "CV"  # read from the Carte Vitale
    INSI = "INSI"  # returned by the INSi teleservice
    CB = "CB"  # read from a barcode (INS DataMatrix)
    RFID = "RFID"

    @classmethod
    def parse(cls, code: str | None) -> CollectionMethod:
        """A method code, case-insensitive; refused with the valid codes when unknown."""
        try:
            return cls((code or "").strip().upper())
        except ValueError:
            raise InvalidTrait("collection-method-unknown", field="collection_method",
                               value=str(code)[:10]) from None


COLLECTION_METHODS = frozenset(m.value for m in CollectionMethod)


@dataclass(frozen=True, slots=True)
class Identity:
    """One patient identity as the repository holds it."""

    id: int
    ipp: str
    traits: Traits
    state: IdentityState
    version: int
    ins_records: tuple[InsRecord, ...] = field(default_factory=tuple)
    insi_at: datetime | None = None
    source: str = "SM"
    active: bool = True
    ipp_authority: Authority = OWN
    merged_into: int | None = None

    @property
    def status(self) -> Status:
        """The RNIV status."""
        return self.state.status

    @property
    def attributes(self) -> frozenset[Attribute]:
        """The RNIV attributes."""
        return self.state.attributes

    def check_open(self, field: str | None = None) -> None:
        """A merged (absorbed) identity is closed: nothing may change it but an unmerge (ins-rniv §6)."""
        if not self.active:
            raise RuleViolation("identity-merged", field=field, rule="ins-rniv §6", ident=self.id,
                                survivor=self.merged_into)

    @property
    def active_ins(self) -> Ins | None:
        """The active INS, when the identity holds one (RECUP or QUAL, ins-rniv §3)."""
        return next((r.ins for r in self.ins_records if r.active), None)

    @property
    def ins_history(self) -> tuple[InsRecord, ...]:
        """Inactive INS kept in history (ins-rniv §6)."""
        return tuple(r for r in self.ins_records if not r.active)

    @property
    def transmissible_ins(self) -> Ins | None:
        """The INS that may leave the repository: only for QUAL (RNIV EXI SI 08)."""
        return self.active_ins if self.state.ins_transmissible else None

    def snapshot(self) -> dict[str, Any]:
        """Plain values of the identity for the audit trail."""
        t = self.traits
        ins = self.active_ins
        data: dict[str, Any] = {
            "ipp": self.ipp,
            "birth_name": t.birth_name,
            "first_names": t.first_names,
            "first_name": t.first_name,
            "sex": t.sex.value,
            "birth_date": t.birth_date.isoformat(),
            "birth_date_completed": t.birth_date_completed,
            "birth_place_code": t.birth_place_code,
            "used_name": t.used_name,
            "used_first_name": t.used_first_name,
            "status": self.status.value,
            "attributes": sorted(a.value for a in self.attributes),
            "ins": {"matricule": ins.matricule, "oid": ins.oid} if ins else None,
        }
        if not self.ipp_authority.own:  # absent: Identito's own IPP domain
            data["ipp_authority"] = self.ipp_authority.text()
        return data


@dataclass(frozen=True)
class IdentityChange:
    """One change of an identity, as the change sinks (the HL7 outbox) hear it before commit."""

    identity: Identity
    before: Identity | None
    trigger: str
    actor: Actor
    details: dict[str, Any] = field(default_factory=dict)


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changed keys only, before and after."""
    if before is None:
        return {}, after
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
