"""Reading MSSanté receipts: delivery status notifications (DSN, RFC 3464 / 6522) and message
disposition notifications (MDN, RFC 8098), including the integration-error MDNs of receiving
systems (mssante.md: subject ``[KO Intégration système !][code]``, ``Disposition`` ending
``processed/Error: code^label``, codes 900-906).

Pure: bytes in, a ``Report`` out (None for a mail that is neither). A report ties back to the
sent message by the DSN's ``Original-Envelope-Id`` (the tracking id, our ENVID) or by the original
Message-ID (an MDN's ``Original-Message-ID``, a DSN's returned headers).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message

from app.domain.mssante import RecipientOutcome

_XTEXT = re.compile(r"\+([0-9A-Fa-f]{2})")
_ERROR = re.compile(r"error\s*:\s*(9\d\d)\s*\^?\s*(.*)$", re.IGNORECASE)
_SUBJECT_CODE = re.compile(r"\[KO Int[ée]gration syst[èe]me !\]\s*\[(9\d\d)\]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RecipientReport:
    """What a report says of one recipient."""

    address: str
    outcome: RecipientOutcome
    reason: str  # the status code and diagnostic, or the integration error's code and label
    error_code: str | None = None  # 900-906 for an integration-error MDN


@dataclass(frozen=True, slots=True)
class Report:
    """One DSN or MDN."""

    kind: str  # "dsn" | "mdn"
    report_id: str  # the report's own Message-ID (duplicates show the same)
    envelope_id: str | None  # our tracking id (DSN)
    original_message_id: str | None
    recipients: tuple[RecipientReport, ...]


def _xtext_decode(value: str) -> str:
    return _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), value.strip())


def _address(field: str | None) -> str:
    """``rfc822; name@domain`` -> ``name@domain``."""
    value = (field or "").split(";", 1)[-1].strip().strip("<>")
    return value


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = part.get_payload(decode=True) or b""
    return [
        email.message_from_bytes(block.strip() + b"\n")
        for block in re.split(rb"\r?\n\r?\n", text)
        if block.strip()
    ]


def _field(message: Message, name: str) -> str | None:
    """A header's raw value (compat32 would turn 8-bit text into an undecodable Header)."""
    wanted = name.lower()
    return next((str(v) for k, v in message.raw_items() if k.lower() == wanted), None)


def _one_line(value: object) -> str:
    """A field as one line of text: 8-bit UTF-8 and RFC 2047 encoded words decoded."""
    text = str(value or "").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if "=?" in text:
        with contextlib.suppress(ValueError, LookupError):
            text = str(make_header(decode_header(text)))
    return " ".join(text.split())[:300]


def parse_report(raw: bytes) -> Report | None:
    """The DSN or MDN in ``raw``; None when the mail is not a delivery or disposition report."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    report_type = (message.get_param("report-type") or "").lower()  # type: ignore[union-attr]
    for part in message.walk():
        content_type = part.get_content_type()
        if report_type == "delivery-status" and content_type == "message/delivery-status":
            return _dsn(message, part)
        if report_type == "disposition-notification" and content_type == "message/disposition-notification":
            return _mdn(message, part)
    return None


def _returned_message_id(message: Message) -> str | None:
    for part in message.walk():
        if part.get_content_type() in ("text/rfc822-headers", "message/rfc822"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return str(payload[0].get("Message-ID") or "").strip() or None
            headers = email.message_from_bytes(part.get_payload(decode=True) or b"")
            return str(_field(headers, "Message-ID") or "").strip() or None
    return None


def _dsn(message: Message, part: Message) -> Report:
    blocks = _blocks(part)
    per_message = blocks[0] if blocks else Message()
    envid = _field(per_message, "Original-Envelope-Id")
    recipients = []
    for block in blocks[1:]:
        address = _address(_field(block, "Original-Recipient") or _field(block, "Final-Recipient"))
        action = str(_field(block, "Action") or "").strip().lower()
        outcome = {
            "delivered": RecipientOutcome.DELIVERED,
            "relayed": RecipientOutcome.DELIVERED,
            "expanded": RecipientOutcome.DELIVERED,
            "failed": RecipientOutcome.FAILED,
        }.get(action)
        if not address or outcome is None:  # "delayed": still on its way, nothing to record
            continue
        reason = _one_line(f"{block.get('Status') or ''} {block.get('Diagnostic-Code') or ''}")
        recipients.append(RecipientReport(address, outcome, reason))
    return Report(
        "dsn",
        str(_field(message, "Message-ID") or "").strip(),
        _xtext_decode(envid) if envid else None,
        _returned_message_id(message),
        tuple(recipients),
    )


def _mdn(message: Message, part: Message) -> Report:
    fields = _blocks(part)
    block = fields[0] if fields else Message()
    address = _address(_field(block, "Original-Recipient") or _field(block, "Final-Recipient"))
    disposition = _one_line(_field(block, "Disposition"))
    error = _ERROR.search(disposition)
    subject_code = _SUBJECT_CODE.search(_one_line(_field(message, "Subject")))
    if error or subject_code:
        code = error.group(1) if error else subject_code.group(1)  # type: ignore[union-attr]
        label = error.group(2).strip() if error else ""
        report = RecipientReport(
            address, RecipientOutcome.INTEGRATION_ERROR, _one_line(f"{code} {label}"), code
        )
    else:
        kind = disposition.split(";")[-1].strip().lower()
        if not kind.startswith(("displayed", "processed")):  # deleted, dispatched: nothing to record
            return Report(
                "mdn",
                str(_field(message, "Message-ID") or "").strip(),
                None,
                str(_field(block, "Original-Message-ID") or "").strip() or None,
                (),
            )
        report = RecipientReport(address, RecipientOutcome.READ, disposition)
    original = str(_field(block, "Original-Message-ID") or "").strip() or None
    return Report(
        "mdn", str(_field(message, "Message-ID") or "").strip(), None, original, (report,) if address else ()
    )
