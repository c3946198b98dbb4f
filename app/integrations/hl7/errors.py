"""Typed errors of the HL7 v2 / MLLP integration, with their FR/EN messages.

``Hl7FormatError`` is a structural problem of a received message: it names the HL7 location in
error (``field``: "PID-7", "MSH-18"...) and the HL7 table 0357 error code that goes into ERR-3 of
the negative acknowledgement. MLLP transport errors are plain exceptions (they never reach a user
message as such: the relay records their class name and retries).
"""

from __future__ import annotations

from typing import Any

from app.domain.errors import DomainError
from app.domain.messages import register

# HL7 table 0357 (message error condition codes) used in ERR-3.
HL7_SEGMENT_SEQUENCE = "100"
HL7_REQUIRED_FIELD_MISSING = "101"
HL7_DATA_TYPE_ERROR = "102"
HL7_TABLE_VALUE_NOT_FOUND = "103"
HL7_UNSUPPORTED_MESSAGE_TYPE = "200"
HL7_UNSUPPORTED_EVENT = "201"
HL7_UNKNOWN_KEY = "204"
HL7_DUPLICATE_KEY = "205"
HL7_APPLICATION_ERROR = "207"


class Hl7FormatError(DomainError):
    """A received HL7 message cannot be read: wrong structure, field or character set."""

    code = "hl7-format"

    def __init__(self, code: str, *, field: str, hl7_code: str = HL7_DATA_TYPE_ERROR, **params: Any):
        self.hl7_code = hl7_code
        super().__init__(code, field=field, **params)


class MllpError(Exception):
    """Base of MLLP transport errors (the message may or may not have been received)."""


class MllpConnectError(MllpError):
    """The peer could not be reached (refused, unreachable, TLS handshake failed)."""


class MllpTimeout(MllpError):
    """The peer did not answer in time (connect or acknowledgement timeout)."""


class MllpDropped(MllpError):
    """The connection closed before a complete frame was exchanged."""


class MllpProtocolError(MllpError):
    """The peer sent bytes that are not an MLLP frame, or a frame that is too large."""


class NegativeAck(Exception):
    """The receiver answered with a negative acknowledgement."""

    def __init__(self, ack_code: str, control_id: str, text: str) -> None:
        self.ack_code = ack_code
        self.control_id = control_id
        self.text = text
        super().__init__(f"{ack_code} for {control_id}: {text}")


class AckError(NegativeAck):
    """AE/CE: error in the message; resending it unchanged will not help."""


class AckRejected(NegativeAck):
    """AR/CR: rejected, e.g. temporarily unable; the message may be resent."""


class AckMismatch(MllpError):
    """The acknowledgement does not answer the message that was sent (MSA-2 differs)."""


_MESSAGES: dict[str, tuple[str, str]] = {
    "hl7-not-hl7": (
        "The message does not start with an MSH segment.",
        "Le message ne commence pas par un segment MSH.",
    ),
    "hl7-bad-separators": (
        "MSH-1 and MSH-2 do not declare five distinct delimiters.",
        "MSH-1 et MSH-2 ne déclarent pas cinq délimiteurs distincts.",
    ),
    "hl7-bad-escape": (
        "{field} holds a malformed escape sequence.",
        "{field} contient une séquence d'échappement mal formée.",
    ),
    "hl7-charset-unsupported": (
        "Character set {charset} is not supported (UNICODE UTF-8 or 8859/1).",
        "Le jeu de caractères {charset} n'est pas pris en charge (UNICODE UTF-8 ou 8859/1).",
    ),
    "hl7-charset-mismatch": (
        "The message bytes do not match the character set {charset} declared in MSH-18.",
        "Les octets du message ne correspondent pas au jeu de caractères {charset} déclaré en MSH-18.",
    ),
    "hl7-missing-field": (
        "Required field {field} is empty.",
        "Le champ obligatoire {field} est vide.",
    ),
    "hl7-missing-segment": (
        "Required segment {field} is missing.",
        "Le segment obligatoire {field} est absent.",
    ),
    "hl7-not-adt": (
        "Message type {value} is not handled (ADT only).",
        "Le type de message {value} n'est pas traité (ADT uniquement).",
    ),
    "hl7-event-unsupported": (
        "Event {value} is not handled by the identity repository.",
        "L'événement {value} n'est pas traité par le référentiel d'identités.",
    ),
    "hl7-bad-date": (
        "{field} is not a valid HL7 date (YYYY, YYYYMM or YYYYMMDD).",
        "{field} n'est pas une date HL7 valide (AAAA, AAAAMM ou AAAAMMJJ).",
    ),
    "hl7-no-ipp": (
        "{field} carries no local identifier (IPP, type PI).",
        "{field} ne contient pas d'identifiant local (IPP, type PI).",
    ),
    "hl7-unavailable": (
        "The identity repository is temporarily unavailable: send the message again later.",
        "Le référentiel d'identités est momentanément indisponible : renvoyez le message plus tard.",
    ),
    "hl7-ins-oid-missing": (
        "An INS in {field} has no assigning authority OID (CX-4.2).",
        "Un INS en {field} n'a pas d'OID d'autorité d'affectation (CX-4.2).",
    ),
}

for _code, (_english, _french) in _MESSAGES.items():
    register(_code, _english, _french)
