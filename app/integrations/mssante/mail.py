"""The MSSanté mail around an IHE_XDM.ZIP (mssante.md "What a sent mail contains").

One ``multipart/mixed`` message: the body text, the document as it is in the archive (the PDF, or
the CDA R2 level 1 wrapping it) and ``IHE_XDM.ZIP``. MSSanté headers: ``X-MSS-INS`` (``O`` when a
qualified INS is in the archive, else ``N``), ``X-MSS-CODECDA`` (the CDA's type code, only with a
CDA), and ``Disposition-Notification-To`` when a read receipt (MDN, RFC 8098) is asked for. No
header names the patient: the subject is the document title, the INS travels only inside the archive.

Pure: the Message-ID and the date are given, so a message rebuilt from the same inputs is the same.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from app.integrations.mssante.xdm import ARCHIVE_NAME, XdmPackage

POLICY = email.policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class MailParts:
    """What surrounds the package."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    message_id: str  # "<...@...>"
    date: datetime
    read_receipt: bool = False
    product_reference: str = ""  # X-MSS-NIL, when the product has one


def build_mail(package: XdmPackage, parts: MailParts) -> bytes:
    """The RFC 5322 bytes (CRLF line ends) of the mail carrying the document and its archive."""
    message = EmailMessage(policy=POLICY)
    message["From"] = parts.sender
    message["To"] = ", ".join(parts.recipients)
    message["Subject"] = parts.subject
    message["Date"] = format_datetime(parts.date)
    message["Message-ID"] = parts.message_id
    message["X-MSS-INS"] = package.ins_flag.value
    if package.cda_code:
        message["X-MSS-CODECDA"] = package.cda_code
    if parts.product_reference:
        message["X-MSS-NIL"] = parts.product_reference
    if parts.read_receipt:
        message["Disposition-Notification-To"] = parts.sender
    message.set_content(parts.body or "", subtype="plain", charset="utf-8")
    if package.document_name.endswith(".XML"):
        message.add_attachment(
            package.document, maintype="text", subtype="xml", filename=package.document_name
        )
    else:
        message.add_attachment(
            package.document, maintype="application", subtype="pdf", filename=package.document_name
        )
    message.add_attachment(package.archive, maintype="application", subtype="zip", filename=ARCHIVE_NAME)
    return message.as_bytes(policy=POLICY)
