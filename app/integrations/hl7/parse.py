"""Parse PAM FR 2.11 identity messages (ITI-30 A28/A31/A40/A47, link A24 / unlink A37, PID of ITI-31 events).

The parser is pure and returns raw values in plain dataclasses: trait validation happens later,
in the service layer, through ``app.domain.traits.build_traits``. It only refuses what makes the
message unreadable (no MSH-10, no IPP, a malformed date...) with an ``Hl7FormatError`` naming the
HL7 field. An INS is recognised by CX-5 = ``INS`` and its OID (CX-4.2), never by namespace text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

from app.integrations.hl7.er7 import HL7_NULL, Er7Message, Tree, decode, pick
from app.integrations.hl7.errors import (
    HL7_REQUIRED_FIELD_MISSING,
    HL7_SEGMENT_SEQUENCE,
    HL7_UNSUPPORTED_EVENT,
    HL7_UNSUPPORTED_MESSAGE_TYPE,
    Hl7FormatError,
)

IDENTITY_FEED = frozenset({"A28", "A31", "A40", "A47", "A24", "A37"})
LINK_EVENTS = frozenset({"A24", "A37"})  # two PIDs: the second names the other identity (PID-3)
# ITI-31 events whose PID also updates the identity.
PATIENT_ENCOUNTER = frozenset(
    {
        "A01",
        "A02",
        "A03",
        "A04",
        "A05",
        "A06",
        "A07",
        "A08",
        "A11",
        "A12",
        "A13",
        "A14",
        "A16",
        "A21",
        "A22",
        "A25",
        "A26",
        "A27",
        "A32",
        "A33",
        "A38",
        "A52",
        "A53",
        "A54",
        "A55",
    }
)
NEEDS_MRG = frozenset({"A40", "A47"})
STATUS_CODES = frozenset({"PROV", "VALI", "RECUP", "QUAL"})
_DTM = re.compile(r"^(\d{4})(?:(\d{2})(?:(\d{2})(?:\d{2,6}(?:\.\d{1,4})?)?)?)?(?:[+-]\d{4})?$")


@dataclass(frozen=True, slots=True)
class Header:
    """MSH fields needed to route, de-duplicate and acknowledge a message."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_type: str
    event: str
    structure: str
    control_id: str
    processing_id: str
    version: str
    charset: str


@dataclass(frozen=True, slots=True)
class Identifier:
    """One CX: value, assigning authority (namespace, universal id and its type), type code."""

    value: str
    namespace: str
    universal_id: str
    universal_id_type: str
    type_code: str


@dataclass(frozen=True, slots=True)
class InsCandidate:
    """An INS as received (CX-5 = INS): not trusted, to be checked; ``matricule`` None = withdrawn."""

    matricule: str | None
    oid: str

    @property
    def withdrawn(self) -> bool:
        """The sender deleted a previously sent INS (HL7 null ``""``)."""
        return self.matricule is None


@dataclass(frozen=True, slots=True)
class Zfd:
    """ZFD French demographic complement, raw."""

    lunar_birth_date: tuple[str, ...] = ()
    gestation_weeks: str = ""
    sms_consent: str = ""
    birth_date_corrected: str = ""
    identity_mode: str = ""
    last_insi_call_date: date | None = None
    document_type: str = ""
    document_expiry_date: date | None = None


@dataclass(frozen=True, slots=True)
class PamIdentityMessage:
    """The identity carried by one PAM FR message, raw (not yet validated against the RNIV)."""

    header: Header
    ipp: Identifier
    identifiers: tuple[Identifier, ...]
    ins: tuple[InsCandidate, ...]
    birth_name: str
    first_name: str
    first_names: str
    used_name: str
    used_first_name: str
    pseudonym: bool
    birth_date: str  # ISO, possibly partial: YYYY-MM-DD, YYYY-MM or YYYY; '' when absent
    sex: str
    birth_place_code: str
    reliability_codes: tuple[str, ...]
    zfd: Zfd | None
    prior_ipp: Identifier | None  # MRG-1 (A40 absorbed identity, A47 previous identifier)
    linked_ipp: Identifier | None = None  # A24/A37: the second PID's IPP (the other identity)

    @property
    def event(self) -> str:
        """Trigger event (MSH-9.2)."""
        return self.header.event

    @property
    def status_code(self) -> str | None:
        """The PID-32 identity reliability code (PROV or VALI per PAM FR 2.11), if any."""
        return next((c for c in self.reliability_codes if c in STATUS_CODES), None)

    @property
    def attribute_codes(self) -> tuple[str, ...]:
        """The other PID-32 codes (table 0445 attributes: DOUT, FICT, HOMA, DOUA...)."""
        return tuple(c for c in self.reliability_codes if c not in STATUS_CODES)


def sniff_header(raw: bytes) -> Header | None:
    """Best-effort MSH of any message, never raising: to acknowledge even what fails to parse."""
    try:
        text, charset = decode(raw)
    except Hl7FormatError:
        text, charset = raw.decode("latin-1").replace("\n", "\r").strip("\x0b\x1c\r "), "UNICODE UTF-8"
    try:
        return _header(Er7Message.split(text, charset=charset), charset)
    except Hl7FormatError:
        return None


def content_digest(raw: bytes) -> str:
    """SHA-256 of a message's content, to tell a resend from another message with the same MSH-10.

    Segment terminators (CR, LF, CRLF) and trailing ones do not count, nor MSH-7 (the time of the
    message), which some interface engines stamp again when they resend.
    """
    text = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").strip(b"\r\x0b\x1c ")
    msh, sep, rest = text.partition(b"\r")
    if msh.startswith(b"MSH") and len(msh) > 3:
        fields = msh.split(msh[3:4])
        if len(fields) > 6:
            fields[6] = b""
        msh = msh[3:4].join(fields)
    return hashlib.sha256(msh + sep + rest).hexdigest()


PAM_SEGMENTS = frozenset({"PID", "MRG", "ZFD"})  # what an identity message is read from (+ MSH)


def parse_pam(raw: bytes) -> PamIdentityMessage:
    """Parse one PAM FR identity message from its raw bytes (charset per MSH-18)."""
    text, charset = decode(raw)
    message = Er7Message.split(text, PAM_SEGMENTS, charset)
    header = _header(message, charset)
    _check_event(header)
    pid = message.segment("PID")
    if pid is None:
        raise Hl7FormatError("hl7-missing-segment", field="PID", hl7_code=HL7_SEGMENT_SEQUENCE)
    identifiers = tuple(_identifier(rep) for rep in message.tree(pid, 3))
    ins = _ins_candidates(message.tree(pid, 3), "PID-3")
    names = message.tree(pid, 5)
    birth = _name_repetition(names, "L")
    used = _name_repetition(names, "D")
    return PamIdentityMessage(
        header=header,
        ipp=_ipp(identifiers, "PID-3"),
        identifiers=identifiers,
        ins=ins,
        birth_name=pick(birth, 1) if birth else "",
        first_name=pick(birth, 2) if birth else "",
        first_names=pick(birth, 3) if birth else "",
        used_name=pick(used, 1) if used else "",
        used_first_name=pick(used, 2) if used else "",
        pseudonym=_name_repetition(names, "S") is not None,
        birth_date=_hl7_date(message.value(pid, 7), "PID-7"),
        sex=message.value(pid, 8).strip().upper(),
        birth_place_code=_birth_place(message.tree(pid, 11)),
        reliability_codes=tuple(
            pick(rep, 1).strip().upper() for rep in message.tree(pid, 32) if pick(rep, 1).strip()
        ),
        zfd=_zfd(message),
        prior_ipp=_prior(message, header.event),
        linked_ipp=_linked(message, header.event),
    )


def _header(message: Er7Message, charset: str) -> Header:
    msh = message.segment("MSH")
    if msh is None:
        raise Hl7FormatError("hl7-not-hl7", field="MSH", hl7_code=HL7_SEGMENT_SEQUENCE)
    control_id = message.value(msh, 10).strip()
    if not control_id:
        raise Hl7FormatError("hl7-missing-field", field="MSH-10", hl7_code=HL7_REQUIRED_FIELD_MISSING)
    return Header(
        sending_application=message.value(msh, 3),
        sending_facility=message.value(msh, 4),
        receiving_application=message.value(msh, 5),
        receiving_facility=message.value(msh, 6),
        message_type=message.value(msh, 9, 1).strip().upper(),
        event=message.value(msh, 9, 2).strip().upper(),
        structure=message.value(msh, 9, 3).strip().upper(),
        control_id=control_id,
        processing_id=message.value(msh, 11).strip() or "P",
        version=message.value(msh, 12).strip(),
        charset=charset,
    )


def _check_event(header: Header) -> None:
    if header.message_type != "ADT":
        raise Hl7FormatError(
            "hl7-not-adt",
            field="MSH-9",
            hl7_code=HL7_UNSUPPORTED_MESSAGE_TYPE,
            value=header.message_type[:10],
        )
    if header.event not in IDENTITY_FEED | PATIENT_ENCOUNTER:
        raise Hl7FormatError(
            "hl7-event-unsupported",
            field="MSH-9",
            hl7_code=HL7_UNSUPPORTED_EVENT,
            value=header.event[:10],
        )


def _identifier(rep: list[list[str]]) -> Identifier:
    return Identifier(
        value=pick(rep, 1).strip(),
        namespace=pick(rep, 4, 1).strip(),
        universal_id=pick(rep, 4, 2).strip(),
        universal_id_type=pick(rep, 4, 3).strip(),
        type_code=pick(rep, 5).strip().upper(),
    )


def _ipp(identifiers: tuple[Identifier, ...], field: str) -> Identifier:
    found = next((i for i in identifiers if i.type_code == "PI" and i.value and i.value != HL7_NULL), None)
    if found is None:
        raise Hl7FormatError("hl7-no-ipp", field=field, hl7_code=HL7_REQUIRED_FIELD_MISSING)
    return found


def _ins_candidates(tree: Tree, field: str) -> tuple[InsCandidate, ...]:
    found: list[InsCandidate] = []
    for rep in tree:
        identifier = _identifier(rep)
        if identifier.type_code != "INS":
            continue
        if not identifier.universal_id:
            raise Hl7FormatError("hl7-ins-oid-missing", field=field)
        value = None if identifier.value in ("", HL7_NULL) else identifier.value
        found.append(InsCandidate(value, identifier.universal_id))
    return tuple(found)


def _name_repetition(tree: Tree, type_code: str) -> list[list[str]] | None:
    return next((rep for rep in tree if pick(rep, 7).strip().upper() == type_code), None)


def _birth_place(tree: Tree) -> str:
    rep = next((r for r in tree if pick(r, 7).strip().upper() == "BDL"), None)
    return pick(rep, 9).strip() if rep else ""


def _hl7_date(raw: str, field: str) -> str:
    """HL7 DTM (YYYY[MM[DD[...]]]) -> ISO partial date; '' when absent."""
    text = raw.strip()
    if not text or text == HL7_NULL:
        return ""
    match = _DTM.fullmatch(text)
    if match is None:
        raise Hl7FormatError("hl7-bad-date", field=field)
    return "-".join(part for part in match.groups() if part)


def _full_date(raw: str, field: str) -> date | None:
    iso = _hl7_date(raw, field)
    if not iso:
        return None
    try:
        return date.fromisoformat(iso)
    except ValueError:
        raise Hl7FormatError("hl7-bad-date", field=field) from None


def _zfd(message: Er7Message) -> Zfd | None:
    zfd = message.segment("ZFD")
    if zfd is None:
        return None
    lunar = message.tree(zfd, 1)
    return Zfd(
        lunar_birth_date=tuple(c[0] for c in lunar[0]) if lunar and any(c[0] for c in lunar[0]) else (),
        gestation_weeks=message.value(zfd, 2).strip(),
        sms_consent=message.value(zfd, 3).strip().upper(),
        birth_date_corrected=message.value(zfd, 4).strip().upper(),
        identity_mode=message.value(zfd, 5).strip().upper(),
        last_insi_call_date=_full_date(message.value(zfd, 6), "ZFD-6"),
        document_type=message.value(zfd, 7).strip().upper(),
        document_expiry_date=_full_date(message.value(zfd, 8), "ZFD-8"),
    )


def _prior(message: Er7Message, event: str) -> Identifier | None:
    mrg = message.segment("MRG")
    if mrg is None:
        if event in NEEDS_MRG:
            raise Hl7FormatError("hl7-missing-segment", field="MRG", hl7_code=HL7_SEGMENT_SEQUENCE)
        return None
    identifiers = tuple(_identifier(rep) for rep in message.tree(mrg, 1))
    return _ipp(identifiers, "MRG-1")


def _linked(message: Er7Message, event: str) -> Identifier | None:
    """A24/A37: the IPP of the second PID (ADT_A24 / ADT_A37: MSH, EVN, PID, [PD1], PID)."""
    if event not in LINK_EVENTS:
        return None
    pids = [segment for segment in message.segments if segment[0] == "PID"]
    if len(pids) < 2:
        raise Hl7FormatError("hl7-missing-segment", field="PID", hl7_code=HL7_SEGMENT_SEQUENCE)
    return _ipp(tuple(_identifier(rep) for rep in message.tree(pids[1], 3)), "PID-3")


@dataclass(frozen=True, slots=True)
class Ack:
    """A received acknowledgement: MSA-1 code, MSA-2 acknowledged control id, ERR reason."""

    code: str
    control_id: str
    text: str
    error_code: str


def parse_ack(raw: bytes) -> Ack:
    """Read MSA (and ERR/MSA-3 text) from a raw acknowledgement."""
    text, charset = decode(raw)
    message = Er7Message.split(text, charset=charset)
    msa = message.segment("MSA")
    if msa is None:
        raise Hl7FormatError("hl7-missing-segment", field="MSA", hl7_code=HL7_SEGMENT_SEQUENCE)
    err = message.segment("ERR")
    text = message.value(err, 8) if err is not None else ""
    return Ack(
        code=message.value(msa, 1).strip().upper(),
        control_id=message.value(msa, 2).strip(),
        text=text or message.value(msa, 3),
        error_code=message.value(err, 5) if err is not None else "",
    )
