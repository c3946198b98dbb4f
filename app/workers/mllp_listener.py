"""The inbound MLLP listener: parse, apply through the identity services, ACK after commit.

Database work runs in a thread per message (sync services), so many connections are served
concurrently. When the database is unavailable the message is answered AR (nothing stored: the
GAM may resend it); rule-breaking or unreadable messages are quarantined and answered AE.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError, OperationalError

from app.config import Settings
from app.domain.errors import DomainError, InvalidTrait
from app.domain.identifiers import OWN, Authority, resolve_authority
from app.integrations.hl7.build import AckErrorDetail, Envelope, build_ack
from app.integrations.hl7.er7 import UTF8, encode
from app.integrations.hl7.errors import HL7_APPLICATION_ERROR, HL7_DATA_TYPE_ERROR, Hl7FormatError
from app.integrations.hl7.mllp import MllpServer, Peer, server_ssl_context
from app.integrations.hl7.parse import (
    Header,
    Identifier,
    PamIdentityMessage,
    content_digest,
    parse_pam,
    sniff_header,
)
from app.services.context import ServiceContext
from app.services.errors import Conflict, NotFound
from app.services.identities import DocumentInput, TraitsInput
from app.services.inbound import Incoming, ReceivedIdentity, hl7_location, receive_many
from app.workers.inbound_processes import WorkerPool

log = logging.getLogger("identito.mllp")
# HL7 table 0357 codes of the refusals that are not format errors.
HL7_CODE_OF = {"identifier-other-person": "205", "identity-merged": "206"}


def received_identity(message: PamIdentityMessage, settings: Settings) -> ReceivedIdentity:
    """The parsed message in the services' terms (raw traits: the domain validates them), its
    identifiers bound to their assigning authority."""
    sender = f"{message.header.sending_application}^{message.header.sending_facility}"
    prior = message.prior_ipp
    zfd = message.zfd
    document = None
    if zfd is not None and zfd.document_type:
        # The referential states the check; an expiry it leaves empty is "none printed".
        document = DocumentInput(zfd.document_type, zfd.document_expiry_date,
                                 no_expiry_printed=zfd.document_expiry_date is None)
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
        prior_ipp=prior.value if prior else None,
        authority=identifier_authority(message.ipp, sender, settings, "PID-3"),
        prior_authority=identifier_authority(prior, sender, settings, "MRG-1") if prior else OWN,
        method=zfd.identity_mode or None if zfd is not None else None,
        document=document,
    )


def identifier_authority(identifier: Identifier, sender: str, settings: Settings, location: str) -> Authority:
    """The assigning authority of a received PI identifier (Identito's own or the sender's)."""
    configured = settings.hl7.identifier_authorities
    text = configured.get(sender) or configured.get(sender.split("^", 1)[0])
    return resolve_authority(
        Authority(identifier.namespace, identifier.universal_id, identifier.universal_id_type),
        own=Authority(settings.ipp_namespace, settings.ipp_oid, "ISO"),
        sender=sender,
        configured=Authority.parse(text) if text else None,
        location=location,
    )


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


class InboundHandler:
    """The MLLP handler: one message in, one ACK out (bytes), after the commit.

    Messages that arrive while the database is busy wait and are then applied together, in one
    transaction (group commit, see ``receive_many``); at most ``hl7.inbound_transactions``
    transactions run at once, each in a worker thread. A connection has at most one message in
    flight (the sender waits for its ACK), so grouping never reorders one sender's messages.

    With ``hl7.inbound_processes`` > 1, parsing and database work run in that many worker
    processes instead (one group at a time each), so that the listener uses several CPU cores;
    this event loop then only frames messages and ACKs.
    """

    def __init__(self, ctx: ServiceContext, settings: Settings) -> None:
        self.ctx, self.settings = ctx, settings
        self._waiting: list[tuple[bytes, asyncio.Future[bytes]]] = []
        self._drainers: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._pool: WorkerPool | None = None
        self._concurrency = settings.hl7.inbound_transactions
        if settings.hl7.inbound_processes > 1:
            self._pool = WorkerPool(settings, settings.hl7.inbound_processes)
            self._concurrency = settings.hl7.inbound_processes

    async def aclose(self) -> None:
        """Stop the worker processes, if any (called when the server closes)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.stop)

    async def __call__(self, raw: bytes, peer: Peer) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting.append((raw, future))
        if len(self._drainers) < self._concurrency:
            task = asyncio.create_task(self._drain())
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        return await future

    async def _drain(self) -> None:
        limit = max(1, self.settings.hl7.inbound_group_max)
        while self._waiting:
            # Threads share one core (the GIL): the fewest, biggest groups cost the least CPU.
            # Worker processes run in parallel: an even share of what waits among the idle ones.
            idle = max(1, self._concurrency - self._busy) if self._pool is not None else 1
            size = min(limit, -(-len(self._waiting) // idle))
            group, self._waiting = self._waiting[:size], self._waiting[size:]
            self._busy += 1
            raws = [raw for raw, _ in group]
            try:
                if self._pool is not None:
                    acks = await self._pool.run(raws)
                else:
                    acks = await asyncio.to_thread(self.process_many, raws)
            except Exception as exc:  # a defect: each waiting connection sees it (and is closed)
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                self._busy -= 1
            for (_, future), ack in zip(group, acks, strict=True):
                if not future.done():  # the connection may have gone meanwhile
                    future.set_result(ack)

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

    def process(self, raw: bytes, *, answers: bytes | None = None) -> bytes:
        """Parse, apply and answer one message (runs in a worker thread). ``answers``: the message
        the sender sent, when ``raw`` is an operator's fix of it (its resends get this ACK)."""
        return self.process_many([raw], answers=answers)[0]

    def process_many(self, raws: list[bytes], *, answers: bytes | None = None) -> list[bytes]:
        """Parse, apply (one transaction when possible) and answer messages (in a worker thread)."""
        headers, incoming = [], []
        for raw in raws:
            header, message = self._incoming(raw)
            if answers is not None:
                message = replace(message, digest=content_digest(answers))
            headers.append(header)
            incoming.append(message)
        try:
            receipts = receive_many(self.ctx, incoming)
        except (OperationalError, DBAPIError) as exc:
            log.error("database unavailable for %d message(s): %s", len(raws), type(exc).__name__)
            unavailable = Hl7FormatError("hl7-unavailable", field="MSH", hl7_code=HL7_APPLICATION_ERROR)
            return [encode(self._ack(header, "AR", unavailable), UTF8) for header in headers]
        acks = []
        for header, message, receipt in zip(headers, incoming, receipts, strict=True):
            log.info(
                "message %s from %s: %s%s",
                header.control_id if header else "?",
                message.sender,
                receipt.ack_code,
                " (duplicate)" if receipt.duplicate else "",
            )
            acks.append(encode(receipt.ack, header.charset if header else UTF8))
        return acks

    def _incoming(self, raw: bytes) -> tuple[Header | None, Incoming]:
        received: ReceivedIdentity | None = None
        error: DomainError | None = None
        try:
            parsed = parse_pam(raw)
            header: Header | None = parsed.header
            received = received_identity(parsed, self.settings)
        except DomainError as exc:
            header, error = sniff_header(raw), exc
        sender = f"{header.sending_application}^{header.sending_facility}" if header else "?"
        trusted = bool(header) and header.sending_application in self.settings.hl7.trusted_referentials
        return header, Incoming(
            sender,
            header.control_id if header else "",
            raw,
            received,
            error,
            lambda code, err: self._ack(header, code, err),
            trusted,
            content_digest(raw),
        )


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
