"""Render an outbox row (identity snapshot) into the HL7 bytes a subscriber receives."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.config import Hl7Settings
from app.domain.ins import Ins
from app.domain.status import Attribute, IdentityState, Status
from app.domain.traits import Sex, Traits
from app.integrations.hl7.build import (
    LINK_STRUCTURES,
    Envelope,
    OutboundFormat,
    OutboundIdentity,
    build_identity_message,
    build_link_message,
)
from app.integrations.hl7.er7 import encode
from app.services.delivery import Claimed, Subscriber


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _ins(value: dict[str, str] | None) -> Ins | None:
    return Ins(value["matricule"], value["oid"]) if value else None


def own_authority(ipp_namespace: str, ipp_oid: str) -> str:
    """Identito's own IPP authority as an HL7 HD."""
    return f"{ipp_namespace}&{ipp_oid}&ISO"


def outbound_identity(snapshot: dict[str, Any], ipp_namespace: str, ipp_oid: str) -> OutboundIdentity:
    """The stored snapshot as the builder's input (values were validated when stored); the IPP's
    authority is Identito's own unless the snapshot names another."""
    traits = Traits(
        birth_name=snapshot["birth_name"],
        first_names=snapshot["first_names"],
        first_name=snapshot["first_name"],
        sex=Sex(snapshot["sex"]),
        birth_date=date.fromisoformat(snapshot["birth_date"]),
        birth_date_completed=bool(snapshot.get("birth_date_completed")),
        birth_place_code=snapshot.get("birth_place_code"),
        used_name=snapshot.get("used_name"),
        used_first_name=snapshot.get("used_first_name"),
    )
    document = snapshot.get("document") or {}
    return OutboundIdentity(
        ipp=snapshot["ipp"],
        ipp_authority=snapshot.get("ipp_authority") or own_authority(ipp_namespace, ipp_oid),
        traits=traits,
        state=IdentityState.of(Status(snapshot["status"]), (Attribute(a) for a in snapshot["attributes"])),
        ins=_ins(snapshot.get("ins")),
        withdrawn_ins=_ins(snapshot.get("withdrawn_ins")),
        identity_mode=snapshot.get("identity_mode"),
        last_insi_call_date=_date(snapshot.get("last_insi_call_date")),
        document_type=document.get("type"),
        document_expiry_date=_date(document.get("expires_on")),
    )


def render(
    row: Claimed, subscriber: Subscriber, hl7: Hl7Settings, ipp_namespace: str, ipp_oid: str
) -> bytes:
    """The message of one outbox row, MSH-10 = the row id, in the format fixed at enqueue."""
    created = (
        row.created_at
        if isinstance(row.created_at, datetime)
        else datetime.fromisoformat(str(row.created_at))
    )
    envelope = Envelope(
        control_id=str(row.id),
        created_at=created,
        sending_application=hl7.sending_application,
        sending_facility=hl7.sending_facility,
        receiving_application=subscriber.receiving_application,
        receiving_facility=subscriber.receiving_facility,
        charset=subscriber.charset,
    )
    identity = outbound_identity(row.snapshot, ipp_namespace, ipp_oid)
    if row.event in LINK_STRUCTURES:  # A24 / A37: the other identity's PID, frozen with the first
        other = outbound_identity(row.snapshot["linked"], ipp_namespace, ipp_oid)
        return encode(build_link_message(row.event, identity, other, envelope, OutboundFormat(row.format)),
                      subscriber.charset)
    # MRG-1's authority: the prior identifier's own (absent: Identito's), not the survivor's.
    prior_authority = row.snapshot.get("prior_ipp_authority") or own_authority(ipp_namespace, ipp_oid)
    text = build_identity_message(
        row.event, identity, envelope, OutboundFormat(row.format), prior_ipp=row.snapshot.get("prior_ipp"),
        prior_ipp_authority=prior_authority,
    )
    return encode(text, subscriber.charset)
