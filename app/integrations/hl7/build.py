"""Build PAM FR 2.11 messages (A28/A31/A40/A47, link A24 / unlink A37) and acknowledgements, pure.

Two formats per subscriber (pam-fr.md "Two outbound formats"):

- ``INS_READY``: full PAM FR 2.11: the INS repetition in PID-3 (only for a QUAL identity, RNIV
  EXI SI 08; ``""`` to withdraw one previously sent), the PID-32 reliability code (PROV/RECUP ->
  PROV, VALI/QUAL -> VALI, Guide INS v3.0 §2.2.2) followed by the attribute codes, and ZFD.
- ``LEGACY``: the same message without the INS repetition, without the PID-32 reliability code
  (attribute codes are kept: they predate the INS) and without ZFD.

MSH-10 is given by the caller (the outbox id), so a receiver can de-duplicate redeliveries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from app.domain.ins import OID_NIA, Ins
from app.domain.status import IdentityState, Status
from app.domain.traits import Traits
from app.integrations.hl7.er7 import HL7_NULL, UTF8, escape

VERSION = "2.5^FRA^2.11"
PROFILE = "2.11^IHE_FRANCE-2.11-PAM"
STRUCTURES = {"A28": "ADT_A05", "A31": "ADT_A05", "A40": "ADT_A39", "A47": "ADT_A30"}
LINK_STRUCTURES = {"A24": "ADT_A24", "A37": "ADT_A37"}
_SENT_STATUS = {Status.PROV: "PROV", Status.RECUP: "PROV", Status.VALI: "VALI", Status.QUAL: "VALI"}


class OutboundFormat(StrEnum):
    """What a subscriber understands."""

    INS_READY = "ins_ready"
    LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class Envelope:
    """MSH data of one outbound message."""

    control_id: str
    created_at: datetime
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    charset: str = UTF8
    processing_id: str = "P"


@dataclass(frozen=True, slots=True)
class OutboundIdentity:
    """The current state of one identity, as it is sent downstream."""

    ipp: str
    ipp_authority: str  # HL7 HD of the IPP's assigning authority: namespace&universal id&type
    traits: Traits
    state: IdentityState
    ins: Ins | None = None
    withdrawn_ins: Ins | None = None  # an INS sent before and no longer valid: sent as ""
    other_codes: tuple[str, ...] = ()  # further table 0445 codes (DOUA, DESA...)
    identity_mode: str | None = None  # ZFD-5: SM, CV, INSI, CB, RFID
    last_insi_call_date: date | None = None
    document_type: str | None = None
    document_expiry_date: date | None = None


def hl7_date(value: date) -> str:
    """HL7 DT."""
    return value.strftime("%Y%m%d")


def _msh(envelope: Envelope, message_type: str) -> str:
    parts = [
        "MSH",
        "^~\\&",
        escape(envelope.sending_application),
        escape(envelope.sending_facility),
        escape(envelope.receiving_application),
        escape(envelope.receiving_facility),
        envelope.created_at.strftime("%Y%m%d%H%M%S"),
        "",
        message_type,
        escape(envelope.control_id),
        envelope.processing_id,
        VERSION,
        "",
        "",
        "",
        "",
        "FRA",
        envelope.charset,
        "FR",
        "",
        PROFILE,
    ]
    return parts[0] + "|" + "|".join(parts[1:])


def _segment(name: str, fields: dict[int, str]) -> str:
    last = max((i for i, value in fields.items() if value), default=0)
    return "|".join([name, *(fields.get(i, "") for i in range(1, last + 1))])


def _cx(value: str, authority: str, type_code: str) -> str:
    hd = "&".join(escape(part) for part in authority.split("&"))
    return f"{value}^^^{hd}^{type_code}"


def ins_cx(ins: Ins, value: str | None = None) -> str:
    """INS repetition of PID-3; the namespace follows the OID (NIR or NIA)."""
    namespace = "ASIP-SANTE-INS-NIA" if ins.oid == OID_NIA else "ASIP-SANTE-INS-NIR"
    return _cx(value if value is not None else ins.matricule, f"{namespace}&{ins.oid}&ISO", "INS")


def pid3(identity: OutboundIdentity, fmt: OutboundFormat) -> str:
    """PID-3: the IPP, then the INS only for a QUAL identity (RNIV EXI SI 08) when INS-ready."""
    reps = [_cx(escape(identity.ipp), identity.ipp_authority, "PI")]
    if fmt is OutboundFormat.INS_READY:
        if identity.ins is not None and identity.state.ins_transmissible:
            reps.append(ins_cx(identity.ins))
        elif identity.withdrawn_ins is not None:
            reps.append(ins_cx(identity.withdrawn_ins, HL7_NULL))
    return "~".join(reps)


def pid5(traits: Traits) -> str:
    """PID-5: birth name (L) then, when known, used name and first name (D)."""
    names = f"{escape(traits.birth_name)}^{escape(traits.first_name)}^{escape(traits.first_names)}^^^^L"
    if traits.used_name or traits.used_first_name:
        used = escape(traits.used_name or traits.birth_name)
        names += f"~{used}^{escape(traits.used_first_name or '')}^^^^^D"
    return names


def pid32(identity: OutboundIdentity, fmt: OutboundFormat) -> str:
    """PID-32: PROV or VALI (Guide INS v3.0 §2.2.2) when INS-ready, then the attribute codes."""
    codes = [a.value for a in sorted(identity.state.attributes)]
    codes += [escape(code) for code in identity.other_codes]
    if fmt is OutboundFormat.INS_READY:
        codes.insert(0, _SENT_STATUS[identity.state.status])
    return "~".join(codes)


def zfd(identity: OutboundIdentity) -> str:
    """ZFD-4 completed birth date, ZFD-5 identity mode, ZFD-6 last INSi call, ZFD-7/8 document."""
    return _segment(
        "ZFD",
        {
            4: "Y" if identity.traits.birth_date_completed else "N",
            5: escape(identity.identity_mode or ""),
            6: hl7_date(identity.last_insi_call_date) if identity.last_insi_call_date else "",
            7: escape(identity.document_type or ""),
            8: hl7_date(identity.document_expiry_date) if identity.document_expiry_date else "",
        },
    )


def pid(identity: OutboundIdentity, fmt: OutboundFormat) -> str:
    """The PID segment of an identity."""
    traits = identity.traits
    return _segment(
        "PID",
        {
            1: "1",
            3: pid3(identity, fmt),
            5: pid5(traits),
            7: hl7_date(traits.birth_date),
            8: traits.sex.value,
            11: f"^^^^^^BDL^^{traits.birth_place_code}" if traits.birth_place_code else "",
            32: pid32(identity, fmt),
        },
    )


def build_identity_message(
    event: str,
    identity: OutboundIdentity,
    envelope: Envelope,
    fmt: OutboundFormat,
    prior_ipp: str | None = None,
    prior_ipp_authority: str | None = None,
) -> str:
    """A28/A31 (ADT_A05), A40 (ADT_A39, MRG-1 = absorbed IPP), A47 (ADT_A30, MRG-1 = old IPP);
    the prior IPP's authority defaults to the identity's."""
    if event not in STRUCTURES:
        raise ValueError(f"unsupported outbound event {event}")
    if event in ("A40", "A47") and not prior_ipp:
        raise ValueError(f"{event} needs the prior identifier for MRG-1")
    stamp = envelope.created_at.strftime("%Y%m%d%H%M%S")
    segments = [
        _msh(envelope, f"ADT^{event}^{STRUCTURES[event]}"),
        f"EVN||{stamp}",
        pid(identity, fmt),
    ]
    if event in ("A40", "A47"):
        authority = prior_ipp_authority or identity.ipp_authority
        segments.append("MRG|" + _cx(escape(prior_ipp or ""), authority, "PI"))
    if event != "A47":
        segments.append("PV1|1|N")
    if fmt is OutboundFormat.INS_READY:
        segments.append(zfd(identity))
    return "\r".join(segments) + "\r"


def build_link_message(
    event: str, identity: OutboundIdentity, other: OutboundIdentity, envelope: Envelope, fmt: OutboundFormat
) -> str:
    """A24 (ADT_A24, link) or A37 (ADT_A37, unlink): MSH, EVN, the PID of each identity (pam-fr.md).

    Both PIDs follow the subscriber's format the same way (the INS only for a QUAL identity and
    only to an INS-ready subscriber, RNIV EXI SI 08); ADT_A24 has no ZFD, nor PV1 here."""
    if event not in LINK_STRUCTURES:
        raise ValueError(f"unsupported link event {event}")
    stamp = envelope.created_at.strftime("%Y%m%d%H%M%S")
    segments = [
        _msh(envelope, f"ADT^{event}^{LINK_STRUCTURES[event]}"),
        f"EVN||{stamp}",
        pid(identity, fmt),
        pid(other, fmt),
    ]
    return "\r".join(segments) + "\r"


def build_ack(
    envelope: Envelope,
    event: str,
    acknowledged_id: str,
    code: str,
    error: AckErrorDetail | None = None,
) -> str:
    """ACK with MSA-1 code (AA/AE/AR), MSA-2 the received MSH-10, and an ERR for AE/AR."""
    segments = [_msh(envelope, f"ACK^{escape(event)}^ACK"), f"MSA|{code}|{escape(acknowledged_id)}"]
    if error is not None:
        segments.append(error.segment())
    return "\r".join(segments) + "\r"


@dataclass(frozen=True, slots=True)
class AckErrorDetail:
    """ERR content: where (ERR-2), HL7 code (ERR-3), severity (ERR-4), our code (ERR-5), text (ERR-8)."""

    location: str  # e.g. "PID-7"
    hl7_code: str
    application_code: str
    text: str
    severity: str = "E"

    def segment(self) -> str:
        """The ERR segment."""
        name, _, number = self.location.partition("-")
        location = f"{escape(name)}^1^{number}" if number.isdigit() else escape(name)
        return _segment(
            "ERR",
            {
                2: location,
                3: f"{self.hl7_code}^^HL70357",
                4: self.severity,
                5: escape(self.application_code),
                8: escape(self.text),
            },
        )
