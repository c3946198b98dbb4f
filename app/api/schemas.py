"""API schemas (Create / Update / Read): the JSON the desks and back office exchange."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.domain.identity import Identity
from app.domain.ins import InsRecord
from app.domain.roles import Role

Name = Field(default=None, max_length=200)


class IdentityCreate(BaseModel):
    """Traits typed at the desk. Names are normalised (upper case, no accents) or refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "birth_name": "Dupont", "first_names": "Jean Pierre", "birth_date": "1980-05-17",
        "sex": "M", "birth_place_code": "63113"}]})

    birth_name: str = Field(max_length=200)
    first_names: str = Field(max_length=200, description="Space-separated list of birth first names")
    first_name: str | None = Field(default=None, max_length=200,
                                   description="Premier prénom; derived from first_names when absent")
    used_name: str | None = Field(default=None, max_length=200)
    used_first_name: str | None = Field(default=None, max_length=200)
    birth_date: str = Field(max_length=10, description="YYYY-MM-DD, YYYY-MM or YYYY")
    sex: str = Field(max_length=1, description="M, F or U")
    birth_place_code: str | None = Field(default=None, max_length=5, description="INSEE COG code")
    ipp: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    collection_method: str = Field(
        default="SM", max_length=4,
        description="How the traits were collected (ZFD-5): "
                    "SM typed, CV Carte Vitale, CB DataMatrix scan, RFID",
    )
    confirm_new: bool = Field(
        default=False,
        description="Create even though an existing identity is a certain or probable duplicate (after "
                    "the 409 probable-duplicate listed it); audited with the candidates shown",
    )


class DocumentCreate(BaseModel):
    """A high-trust document check: the type must be chosen (RNIV EXI SI 23); a type that prints an
    expiry date needs it, or ``no_expiry_printed: true``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=40, description="Document code (ins-rniv §5): CN, PA, CS, ...")
    expires_on: date | None = None
    no_expiry_printed: bool = Field(default=False, description="The document prints no expiry date")


class IdentityUpdate(BaseModel):
    """Traits to change (absent = unchanged; null clears an optional trait) and the reason."""

    model_config = ConfigDict(extra="forbid")

    birth_name: str | None = Field(default=None, max_length=200)
    first_names: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=200)
    used_name: str | None = Field(default=None, max_length=200)
    used_first_name: str | None = Field(default=None, max_length=200)
    birth_date: str | None = Field(default=None, max_length=10)
    sex: str | None = Field(default=None, max_length=1)
    birth_place_code: str | None = Field(default=None, max_length=5)
    reason: str | None = Field(default=None, max_length=1000)
    document: DocumentCreate | None = Field(
        default=None,
        description="A high-trust document checked with a strict-trait change: keeps (or gives) the "
                    "document fact; without it a strict change leaves the identity PROV (ins-rniv §3)",
    )


class InsRead(BaseModel):
    """The active INS of a RECUP/QUAL identity; transmissible only for QUAL (RNIV EXI SI 08)."""

    matricule: str
    oid: str
    nature: str
    transmissible: bool


class InsHistoryRead(BaseModel):
    """An INS kept in history."""

    matricule: str
    oid: str
    nature: str
    source: str
    valid_from: date | None = None
    valid_to: date | None = None


class IdentityRead(BaseModel):
    """An identity as the API shows it."""

    id: int
    ipp: str
    ipp_authority: str | None = Field(
        description="Assigning authority of the IPP (HL7 HD namespace&OID&type); null: Identito's own"
    )
    active: bool = Field(description="false once merged into another identity (then read-only)")
    merged_into: int | None = Field(description="The surviving identity when this one was merged")
    birth_name: str
    first_names: str
    first_name: str
    used_name: str | None
    used_first_name: str | None
    birth_date: date
    birth_date_completed: bool
    sex: str
    birth_place_code: str | None
    status: str
    attributes: list[str]
    ins: InsRead | None
    ins_history: list[InsHistoryRead]
    insi_at: datetime | None
    collection_method: str = Field(
        description="How the traits were collected (ZFD-5): SM, CV, INSI, CB, RFID"
    )
    version: int

    @classmethod
    def of(cls, identity: Identity, roles: frozenset[str]) -> IdentityRead:
        """Render an identity for an actor (the documents role sees the INS only for QUAL)."""
        t = identity.traits
        active = identity.active_ins
        documents_only = not (roles - {Role.DOCUMENTS.value})
        hide_ins = documents_only and not identity.state.ins_transmissible
        ins = None
        if active is not None and not hide_ins:
            ins = InsRead(matricule=active.matricule, oid=active.oid, nature=active.nature.value,
                          transmissible=identity.state.ins_transmissible)
        history = [] if hide_ins else [_history(r) for r in identity.ins_history]
        return cls(
            id=identity.id, ipp=identity.ipp,
            ipp_authority=None if identity.ipp_authority.own else identity.ipp_authority.text(),
            active=identity.active, merged_into=identity.merged_into,
            collection_method=identity.source, birth_name=t.birth_name, first_names=t.first_names,
            first_name=t.first_name, used_name=t.used_name, used_first_name=t.used_first_name,
            birth_date=t.birth_date, birth_date_completed=t.birth_date_completed, sex=t.sex.value,
            birth_place_code=t.birth_place_code, status=identity.status.value,
            attributes=sorted(a.value for a in identity.attributes), ins=ins, ins_history=history,
            insi_at=identity.insi_at, version=identity.version,
        )


def _history(record: InsRecord) -> InsHistoryRead:
    return InsHistoryRead(matricule=record.ins.matricule, oid=record.ins.oid,
                          nature=record.ins.nature.value, source=record.source,
                          valid_from=record.valid_from, valid_to=record.valid_to)


class IdentityPage(BaseModel):
    """A page of search results."""

    items: list[IdentityRead]
    limit: int
    offset: int
    has_more: bool


class DocumentRead(BaseModel):
    """A recorded document check."""

    id: int
    type: str
    high_trust: bool
    checked_by: str
    checked_at: datetime
    expires_on: date | None
    no_expiry_printed: bool
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


class DocumentRecorded(BaseModel):
    """The document recorded and the identity after it."""

    document: DocumentRead
    identity: IdentityRead


class Reason(BaseModel):
    """A reason for a change that must be explained."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class AttributeSet(Reason):
    """An attribute to set, with its reason."""

    code: str = Field(max_length=4, description="DOUT, FICT or HOMA")


class AuditRead(BaseModel):
    """One audit event."""

    id: int
    at: datetime
    actor: str
    roles: list[str]
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
