"""The inbound MLLP listener: parse, apply through the identity services, ACK after commit.

Database work runs in a thread per message (sync services), so many connections are served
concurrently. When the database is unavailable the message is answered AR (nothing stored: the
GAM may resend it); rule-breaking or unreadable messages are quarantined and answered AE.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError, OperationalError

from app.config import Settings
from app.domain.errors import DomainError, InvalidTrait
from app.integrations.hl7.build import AckErrorDetail, Envelope, build_ack
from app.integrations.hl7.er7 import UTF8, encode
from app.integrations.hl7.errors import HL7_APPLICATION_ERROR, HL7_DATA_TYPE_ERROR, Hl7FormatError
from app.integrations.hl7.mllp import MllpServer, Peer, server_ssl_context
from app.integrations.hl7.parse import Header, PamIdentityMessage, parse_pam, sniff_header
from app.services.context import ServiceContext
from app.services.errors import Conflict, NotFound
from app.services.identities import TraitsInput
from app.services.inbound import ReceivedIdentity, receive

log = logging.getLogger("identito.mllp")
# Where a trait error points in the message (ERR-2).
TRAIT_LOCATION = {
    "birth_name": "PID-5",
    "first_names": "PID-5",
    "first_name": "PID-5",
    "used_name": "PID-5",
    "used_first_name": "PID-5",
    "birth_date": "PID-7",
    "sex": "PID-8",
    "birth_place_code": "PID-11",
    "matricule": "PID-3",
    "oid": "PID-3",
    "ipp": "PID-3",
}


def received_identity(message: PamIdentityMessage) -> ReceivedIdentity:
    """The parsed message in the services' terms (raw traits: the domain validates them)."""
    return ReceivedIdentity(
        event=message.event,
        ipp=message.ipp.value,
        traits=TraitsInput(
            birth_name=message.birth_name,
            first_names=message.first_names,
            birth_date=message.birth_date,
            sex=message.sex,
            first_name=message.first_name or None,
            birth_place_code=message.birth_place_code or None,
            used_name=message.used_name or None,
            used_first_name=message.used_first_name or None,
        ),
        ins=tuple((c.matricule, c.oid) for c in message.ins),
        status_code=message.status_code,
        prior_ipp=message.prior_ipp.value if message.prior_ipp else None,
    )


def error_detail(error: DomainError, language: str) -> AckErrorDetail:
    """ERR content of a refused message."""
    if isinstance(error, Hl7FormatError):
        hl7_code = error.hl7_code
    elif isinstance(error, InvalidTrait):
        hl7_code = HL7_DATA_TYPE_ERROR
    elif isinstance(error, NotFound):
        hl7_code = "204"
    elif isinstance(error, Conflict):
        hl7_code = "205"
    else:
        hl7_code = HL7_APPLICATION_ERROR
    location = TRAIT_LOCATION.get(error.field or "", error.field or "PID")
    return AckErrorDetail(location, hl7_code, error.code, error.message(language))


class InboundHandler:
    """The MLLP handler: one message in, one ACK out (bytes)."""

    def __init__(self, ctx: ServiceContext, settings: Settings) -> None:
        self.ctx, self.settings = ctx, settings

    async def __call__(self, raw: bytes, peer: Peer) -> bytes:
        return await asyncio.to_thread(self.process, raw)

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

    def process(self, raw: bytes) -> bytes:
        """Parse, apply and answer (runs in a worker thread)."""
        received: ReceivedIdentity | None = None
        error: DomainError | None = None
        try:
            parsed = parse_pam(raw)
            header: Header | None = parsed.header
            received = received_identity(parsed)
        except DomainError as exc:
            header, error = sniff_header(raw), exc
        sender = f"{header.sending_application}^{header.sending_facility}" if header else "?"
        try:
            receipt = receive(
                self.ctx,
                sender,
                header.control_id if header else "",
                raw,
                received,
                error,
                lambda code, err: self._ack(header, code, err),
                trusted=bool(header) and header.sending_application in self.settings.hl7.trusted_referentials,
            )
        except (OperationalError, DBAPIError) as exc:
            log.error(
                "database unavailable for message %s: %s",
                header.control_id if header else "?",
                type(exc).__name__,
            )
            return encode(
                self._ack(
                    header,
                    "AR",
                    Hl7FormatError("hl7-unavailable", field="MSH", hl7_code=HL7_APPLICATION_ERROR),
                ),
                UTF8,
            )
        log.info(
            "message %s from %s: %s%s",
            header.control_id if header else "?",
            sender,
            receipt.ack_code,
            " (duplicate)" if receipt.duplicate else "",
        )
        return encode(receipt.ack, header.charset if header else UTF8)


def build_server(
    ctx: ServiceContext, settings: Settings, *, host: str | None = None, port: int | None = None
) -> MllpServer:
    """The listener as configured (TLS and mutual TLS when certificate paths are set)."""
    hl7 = settings.hl7
    context = None
    if hl7.listen_tls_cert_path and hl7.listen_tls_key_path:
        context = server_ssl_context(
            hl7.listen_tls_cert_path, hl7.listen_tls_key_path, hl7.listen_tls_client_ca_path
        )
    return MllpServer(
        InboundHandler(ctx, settings),
        host or hl7.listen_host,
        hl7.listen_port if port is None else port,
        ssl_context=context,
        max_message_bytes=hl7.max_message_bytes,
        idle_timeout_seconds=hl7.idle_timeout_seconds,
    )


async def serve_mllp(
    ctx: ServiceContext,
    settings: Settings,
    stop: asyncio.Event,
    *,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Listen until ``stop`` is set."""
    server = await build_server(ctx, settings, host=host, port=port).start()
    log.info("MLLP listener on %s:%s", server.host, server.port)
    try:
        await stop.wait()
    finally:
        await server.close()
