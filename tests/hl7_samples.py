"""Plain helpers shared by the HL7 tests: the ANS sample and outbound identities."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from app.domain.ins import OID_NIR, Ins
from app.domain.status import Attribute, IdentityState, Status
from app.domain.traits import build_traits
from app.integrations.hl7.build import Envelope, OutboundIdentity

FIXTURES = Path(__file__).parent / "fixtures" / "hl7"
TODAY = date(2026, 1, 15)


def ans_sample() -> bytes:
    """The ANS PAM FR 2.11 sample (PAT-TROIS DOMINIQUE), verbatim from pam-fr.md, CR-separated."""
    return (FIXTURES / "ans_pat_trois_a01.hl7").read_bytes()


def outbound_identity(
    status: Status = Status.QUAL,
    attributes: tuple[Attribute, ...] = (),
    *,
    ipp: str = "123456",
    used: bool = True,
    withdrawn: Ins | None = None,
    **trait_overrides: object,
) -> OutboundIdentity:
    """A realistic identity (real INS key) in the given state."""
    raw = {
        "birth_name": "DE LA FONTAINE-D'ARC",
        "first_names": "JEAN-CHRISTOPHE PIERRE",
        "first_name": "JEAN-CHRISTOPHE",
        "birth_date": "1975-12-06",
        "sex": "F",
        "birth_place_code": "63220",
        "used_name": "MARTIN" if used else None,
        "used_first_name": "JC" if used else None,
    }
    raw.update(trait_overrides)
    traits = build_traits(today=TODAY, **raw)  # type: ignore[arg-type]
    return OutboundIdentity(
        ipp=ipp,
        ipp_authority="IDENTITO&1.2.250.1.71.4.2.2.999&ISO",
        traits=traits,
        state=IdentityState.of(status, attributes),
        ins=Ins.of("275126322074974", OID_NIR),
        withdrawn_ins=withdrawn,
        identity_mode="INSI",
        last_insi_call_date=date(2026, 1, 10),
        document_type="CN",
        document_expiry_date=date(2030, 5, 1),
    )


def envelope(control_id: str = "42", charset: str = "UNICODE UTF-8") -> Envelope:
    """MSH data towards a DPI."""
    return Envelope(
        control_id=control_id,
        created_at=datetime(2026, 1, 15, 10, 30, 0),
        sending_application="IDENTITO",
        sending_facility="CHU-X",
        receiving_application="DPI",
        receiving_facility="CHU-X",
        charset=charset,
    )
