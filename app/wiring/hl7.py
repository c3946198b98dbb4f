"""The HL7 inbound pipeline: a received message, from its bytes to the ACK that answers it.

bytes -> ``parse_pam`` -> ``InboundCommand`` (the identity in the domain's terms, mapped once here;
or why the message cannot be read) -> ``inbound.apply_messages`` for the messages that wait together
-> one result each -> the ACK: the AA stored with the change, the stored ACK of a resend, or an AE
built here for a refused message, which ``inbound.quarantine`` keeps. A database that cannot be
reached is answered AR (nothing was stored: the GAM may resend).

Used by the MLLP listener (in its threads or worker processes) and by the API's quarantine re-run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from app.config import Settings
from app.db.errors import DatabaseUnavailable
from app.domain.errors import DomainError, InvalidTrait
from app.domain.identifiers import OWN, Authority, resolve_authority
from app.domain.traits import build_traits
from app.integrations.hl7.build import AckErrorDetail, Envelope, build_ack
from app.integrations.hl7.er7 import UTF8, codec_of, encode
from app.integrations.hl7.errors import HL7_APPLICATION_ERROR, HL7_DATA_TYPE_ERROR, Hl7FormatError
from app.integrations.hl7.parse import (
    Header,
    Identifier,
    PamIdentityMessage,
    content_digest,
    parse_ack,
    parse_pam,
    sniff_header,
)
from app.services import inbound
from app.services.context import ServiceContext
from app.services.errors import Conflict, NotFound
from app.services.identities import DocumentInput
from app.services.inbound import InboundCommand, InboundResult, ReceivedIdentity, hl7_location

log = logging.getLogger("identito.mllp")
# HL7 table 0357 codes of the refusals that are not format errors.
HL7_CODE_OF = {"identifier-other-person": "205", "identity-merged": "206", "ins-held-elsewhere": "205"}


def error_detail(error: DomainError, language: str) -> AckErrorDetail:
    """ERR content of a refused message."""
    if isinstance(error, Hl7FormatError):
        hl7_code = error.hl7_code
    elif error.code in HL7_CODE_OF:
        hl7_code = HL7_CODE_OF[error.code]
    elif isinstance(error, InvalidTrait):
        hl7_code = HL7_DATA_TYPE_ERROR
    elif isinstance(error, NotFound):
        hl7_code = "204"
    elif isinstance(error, Conflict):
        hl7_code = "205"
    else:
        hl7_code = HL7_APPLICATION_ERROR
    return AckErrorDetail(hl7_location(error), hl7_code, error.code, error.message(language))


class InboundPipeline:
    """Parse, map, apply and acknowledge received messages (sync: runs in a worker thread)."""

    def __init__(self, ctx: ServiceContext, settings: Settings) -> None:
        self.ctx, self.settings = ctx, settings
        self._own = Authority(settings.ipp_namespace, settings.ipp_oid, "ISO")

    def process(self, raw: bytes, *, answers: bytes | None = None) -> bytes:
        """One message. ``answers``: the message the sender sent, when ``raw`` is an operator's fix
        of it (a resend of the original then gets this ACK)."""
        return self.process_many([raw], answers=answers)[0]

    def process_many(self, raws: list[bytes], *, answers: bytes | None = None) -> list[bytes]:
        """Messages that arrived together: applied in one transaction when possible, each answered."""
        parsed = [self._command(raw) for raw in raws]
        if answers is not None:
            parsed = [(header, replace(c, digest=content_digest(answers))) for header, c in parsed]
        commands = [c for _, c in parsed]
        try:
            results = inbound.apply_messages(self.ctx, commands)
            results = [
                self._refused(header, command, result) if result.error is not None else result
                for (header, command), result in zip(parsed, results, strict=True)
            ]
        except DatabaseUnavailable as exc:
            log.error("database unavailable for %d message(s): %s", len(raws), exc)
            unavailable = Hl7FormatError("hl7-unavailable", field="MSH", hl7_code=HL7_APPLICATION_ERROR)
            return [encode(self._ack(header, "AR", unavailable), UTF8) for header, _ in parsed]
        acks = []
        for (header, command), result in zip(parsed, results, strict=True):
            log.info("message %s from %s: %s%s", command.control_id or "?", command.sender, result.ack_code,
                     " (duplicate)" if result.duplicate else "")
            acks.append(encode(result.ack or "", header.charset if header else UTF8))
        return acks

    def _refused(
        self, header: Header | None, command: InboundCommand, result: InboundResult
    ) -> InboundResult:
        assert result.error is not None
        return inbound.quarantine(self.ctx, command, result.error, self._ack(header, "AE", result.error))

    def _command(self, raw: bytes) -> tuple[Header | None, InboundCommand]:
        received: ReceivedIdentity | None = None
        error: DomainError | None = None
        try:
            message = parse_pam(raw)
            header: Header | None = message.header
            received = self._received(message)
        except DomainError as exc:
            header, error = sniff_header(raw), exc
        sender = f"{header.sending_application}^{header.sending_facility}" if header else "?"
        trusted = header is not None and header.sending_application in self.settings.hl7.trusted_referentials
        command = InboundCommand(sender, header.control_id if header else "", raw, received, error,
                                 self._ack(header, "AA", None), trusted, content_digest(raw))
        return header, command

    def _received(self, message: PamIdentityMessage) -> ReceivedIdentity:
        """The message in the domain's terms: traits validated (as at a desk), identifiers bound to
        their assigning authority, the document and collection method the sender states."""
        sender = f"{message.header.sending_application}^{message.header.sending_facility}"
        prior, zfd, linked = message.prior_ipp, message.zfd, message.linked_ipp
        document = None
        if zfd is not None and zfd.document_type:
            # The referential states the check; an expiry it leaves empty is "none printed".
            document = DocumentInput(zfd.document_type, zfd.document_expiry_date,
                                     no_expiry_printed=zfd.document_expiry_date is None)
        traits = build_traits(
            birth_name=message.birth_name, first_names=message.first_names,
            first_name=message.first_name or None, birth_date=message.birth_date, sex=message.sex,
            birth_place_code=message.birth_place_code or None, used_name=message.used_name or None,
            used_first_name=message.used_first_name or None, today=self.ctx.today(),
            known_birth_places=self.ctx.birth_place_codes,
        )
        return ReceivedIdentity(
            event=message.event,
            ipp=message.ipp.value,
            traits=traits,
            ins=tuple((c.matricule, c.oid) for c in message.ins),
            status_code=message.status_code,
            prior_ipp=prior.value if prior else None,
            authority=self._authority(message.ipp, sender, "PID-3"),
            prior_authority=self._authority(prior, sender, "MRG-1") if prior else OWN,
            method=(zfd.identity_mode or None) if zfd is not None else None,
            document=document,
            linked_ipp=linked.value if linked else None,
            linked_authority=self._authority(linked, sender, "PID-3") if linked else OWN,
        )

    def _authority(self, identifier: Identifier, sender: str, location: str) -> Authority:
        """The assigning authority of a received PI identifier (Identito's own or the sender's)."""
        configured = self.settings.hl7.identifier_authorities
        text = configured.get(sender) or configured.get(sender.split("^", 1)[0])
        return resolve_authority(
            Authority(identifier.namespace, identifier.universal_id, identifier.universal_id_type),
            own=self._own, sender=sender, configured=Authority.parse(text) if text else None,
            location=location,
        )

    def _ack(self, header: Header | None, code: str, error: DomainError | None) -> str:
        hl7 = self.settings.hl7
        envelope = Envelope(
            control_id=uuid.uuid4().hex[:20],
            created_at=datetime.now(UTC),
            sending_application=hl7.sending_application,
            sending_facility=hl7.sending_facility,
            receiving_application=header.sending_application if header else "",
            receiving_facility=header.sending_facility if header else "",
            charset=header.charset if header else UTF8,
            processing_id=header.processing_id if header else "P",
        )
        detail = error_detail(error, self.settings.language) if error is not None else None
        return build_ack(
            envelope, header.event if header else "", header.control_id if header else "", code, detail
        )


def rerun_processor(
    ctx: ServiceContext, settings: Settings
) -> Callable[[bytes | str, bytes | None], tuple[str, str]]:
    """Run a (possibly operator-fixed) message through the inbound pipeline; (MSA-1, ACK text).

    The ACK answers the message the sender sent (``original``): a resend of it gets this ACK.
    """
    pipeline = InboundPipeline(ctx, settings)

    def process(message: bytes | str, original: bytes | None = None) -> tuple[str, str]:
        if isinstance(message, str):
            header = sniff_header(message.encode("utf-8"))
            message = message.encode(codec_of(header.charset) if header else "utf-8", errors="replace")
        ack = pipeline.process(message, answers=original)
        ack_header = sniff_header(ack)
        return (
            parse_ack(ack).code,
            ack.decode(codec_of(ack_header.charset if ack_header else UTF8), "replace"),
        )

    return process
