"""MSSanté sending use cases: accept a document to send, follow its messages, and the SMTP worker's steps.

Accepting (``send_message``) checks everything first (role, recipients and trust space, the
identity and the INS rule, the PDF, the metadata), builds the whole mail (the IHE_XDM.ZIP package
and the MIME message, through the ``MssComposer`` port wired by the composition root), then stores
it with its recipients in one transaction: the message row is the durable queue item the SMTP
worker claims. A refused request writes nothing. Logs name the tracking id and the identity id only.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app.db.mss import ClaimedMail, MessageView, NewMessage
from app.domain.cover_page import DocumentInfo, cover_page_data
from app.domain.errors import InvalidTrait
from app.domain.identity import Identity
from app.domain.messages import register
from app.domain.mssante import (
    IDENTITY_ERRORS,
    INTEGRATION_ERRORS,
    MssPolicy,
    RecipientOutcome,
    address_domain,
    check_recipients,
    status_after,
)
from app.domain.roles import Role, require_any
from app.domain.worklist import WorklistKind
from app.domain.xds import DocumentMetadata
from app.services.context import Actor, ServiceContext
from app.services.documents import DocumentTools, IdentityRef, check_size, find_identity
from app.services.errors import Conflict, NotFound
from app.services.worklists import open_item

__all__ = ["ClaimedMail", "ComposedMail", "MessageView", "MssComposer", "MssTools", "SendOptions"]
log = logging.getLogger(__name__)
SENDERS = (Role.DOCUMENTS,)
MAX_BODY = 20_000

register(
    "mss-body-invalid",
    "The message text is too long (at most {max} characters) or holds control characters.",
    "Le texte du message est trop long (au plus {max} caractères) ou contient des caractères de contrôle.",
)
register(
    "mss-not-dead",
    "Message {tracking} is {state}: only a dead letter can be queued again.",
    "Le message {tracking} est à l'état {state} : seul un message abandonné (dead) peut être renvoyé.",
)


@dataclass(frozen=True, slots=True)
class ComposedMail:
    """The mail as it will be submitted, and what the message row records of it."""

    mail: bytes
    document_unique_id: str
    ins_sent: bool


class MssComposer(Protocol):
    """The port implemented in app.wiring.mss: XDM package and MIME message."""

    def compose(
        self,
        pdf: bytes,
        identity: Identity,
        metadata: DocumentMetadata,
        *,
        recipients: tuple[str, ...],
        body: str,
        cda: bool,
        read_receipt: bool,
        message_id: str,
        now: datetime,
        pdf_parsed: bool,
    ) -> ComposedMail:
        """Build the package and the mail; raises a DomainError when a rule or a check refuses."""


@dataclass(frozen=True)
class MssTools:
    """The composer and the sending settings, built once by the composition root."""

    composer: MssComposer
    policy: MssPolicy
    sender: str
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff after ``attempts`` attempts."""
        return timedelta(
            seconds=min(self.retry_base_seconds * 2 ** max(attempts - 1, 0), self.retry_max_seconds)
        )


@dataclass(frozen=True, slots=True)
class SendOptions:
    """What the caller asks for besides the document."""

    stamp: bool = False  # the INS cover page in front of the PDF (QUAL only, documents capability)
    first_page: bool | None = None
    cda: bool = False  # wrap the PDF in a CDA R2 level 1 document
    read_receipt: bool = False  # ask for an MDN (Disposition-Notification-To)


def _check_body(body: str) -> str:
    if len(body) > MAX_BODY or any(ord(c) < 32 and c not in "\r\n\t" for c in body):
        raise InvalidTrait("mss-body-invalid", field="body", max=MAX_BODY)
    return body


def send_message(
    ctx: ServiceContext,
    docs: DocumentTools,
    tools: MssTools,
    actor: Actor,
    pdf: bytes,
    ref: IdentityRef,
    metadata: DocumentMetadata,
    recipients: list[str],
    body: str = "",
    options: SendOptions | None = None,
) -> MessageView:
    """Check, build and queue one mail (202 for the API); nothing is written when anything refuses."""
    require_any(actor.roles, *SENDERS)
    options = options or SendOptions()
    check_size(docs, pdf)
    addresses = check_recipients(recipients, tools.policy)
    body = _check_body(body)
    with ctx.reading() as reader:
        identity = find_identity(reader.identities, ref)
    identity.check_open(field="identity")
    pdf_parsed = False
    if options.stamp:
        data = cover_page_data(
            identity.state,
            identity.active_ins,
            identity.traits,
            establishment_name=docs.establishment_name,
            birth_place_name=docs.birth_place_names.get(identity.traits.birth_place_code or ""),
            document=DocumentInfo(metadata.title, metadata.created_at.date()),
        )
        pdf = docs.renderer.stamp(pdf, data, first_page=options.first_page).pdf
        pdf_parsed = True
    tracking = str(uuid.uuid4())
    domain = address_domain(tools.sender) or "identito.invalid"
    message_id = f"<{tracking}@{domain}>"
    now = ctx.now()
    composed = tools.composer.compose(
        pdf,
        identity,
        metadata,
        recipients=addresses,
        body=body,
        cda=options.cda,
        read_receipt=options.read_receipt,
        message_id=message_id,
        now=now,
        pdf_parsed=pdf_parsed,
    )
    new = NewMessage(
        tracking_id=tracking,
        message_id=message_id,
        identity_id=identity.id,
        document_unique_id=composed.document_unique_id,
        kind=metadata.kind,
        action=metadata.action.value,
        ins_sent=composed.ins_sent,
        cda=options.cda,
        read_receipt=options.read_receipt,
        sender=tools.sender,
        mail=composed.mail,
        created_by=actor.subject[:128],
    )
    with ctx.unit_of_work(actor) as uow:
        uow.mss.add(new, addresses, now)
        uow.audit(
            "mss.message.queued",
            identity.id,
            after={
                "tracking_id": tracking,
                "recipients": len(addresses),
                "document_unique_id": composed.document_unique_id,
                "ins_sent": composed.ins_sent,
                "stamped": options.stamp,
                "cda": options.cda,
            },
            full=True,
        )
        uow.commit()
    if options.stamp:
        log.info("INS printed for identity %s by %s (MSSanté cover page)", identity.id, actor.subject)
    log.info(
        "MSSanté message %s queued for identity %s (%d recipient(s))", tracking, identity.id, len(addresses)
    )
    return message(ctx, actor, tracking)


def message(ctx: ServiceContext, actor: Actor, tracking_id: str) -> MessageView:
    """One message and its recipients' statuses."""
    require_any(actor.roles, *SENDERS)
    with ctx.reading() as reader:
        found = reader.mss.get(tracking_id)
    if found is None:
        raise NotFound(what="Message", ident=tracking_id[:36])
    return found


def messages(
    ctx: ServiceContext,
    actor: Actor,
    *,
    state: str | None = None,
    identity_id: int | None = None,
    recipient_status: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[MessageView]:
    """Messages newest first, filtered."""
    require_any(actor.roles, *SENDERS)
    with ctx.reading() as reader:
        return reader.mss.search(
            state=state,
            identity_id=identity_id,
            recipient_status=recipient_status,
            since=since,
            limit=limit,
            offset=offset,
        )


def retry(ctx: ServiceContext, actor: Actor, tracking_id: str) -> MessageView:
    """An operator queues a dead letter again."""
    current = message(ctx, actor, tracking_id)
    with ctx.unit_of_work(actor) as uow:
        if not uow.mss.requeue(tracking_id, uow.now()):
            raise Conflict("mss-not-dead", tracking=tracking_id, state=current.state)
        uow.audit("mss.message.requeued", current.identity_id, after={"tracking_id": tracking_id}, full=True)
        uow.commit()
    log.info("MSSanté message %s queued again by %s", tracking_id, actor.subject)
    return message(ctx, actor, tracking_id)


def counts(ctx: ServiceContext) -> tuple[dict[str, int], dict[str, int]]:
    """Messages per state and recipients per status (/metrics gauges)."""
    with ctx.reading() as reader:
        return reader.mss.counts()


# -- the SMTP worker's steps (app/workers/mss_sender.py) ---------------------------------------
WORKER = Actor("mss-worker", frozenset(), kind="job")


def claim(ctx: ServiceContext, worker_id: str, limit: int, lease_seconds: float) -> list[ClaimedMail]:
    """Lease ready messages to this worker."""
    with ctx.unit_of_work(WORKER) as uow:
        claimed = uow.mss.claim(worker_id, uow.now(), limit, lease_seconds)
        uow.commit()
    return claimed


def record_sent(ctx: ServiceContext, worker_id: str, mail: ClaimedMail, refused: Mapping[str, str]) -> None:
    """The server took the mail (some recipients may have been refused for good)."""
    with ctx.unit_of_work(WORKER) as uow:
        uow.mss.mark_sent(mail.id, worker_id, uow.now(), refused)
        uow.commit()


def record_failed(ctx: ServiceContext, worker_id: str, mail: ClaimedMail, reason: str) -> None:
    """Refused for good: the message and its pending recipients fail."""
    with ctx.unit_of_work(WORKER) as uow:
        uow.mss.mark_failed(mail.id, worker_id, uow.now(), reason)
        uow.commit()


def record_temporary(
    ctx: ServiceContext, tools: MssTools, worker_id: str, mail: ClaimedMail, reason: str
) -> str | None:
    """A temporary failure: retried after a backoff, or a dead letter at the limit. Returns the new state."""
    with ctx.unit_of_work(WORKER) as uow:
        due = None if mail.attempts >= tools.max_attempts else uow.now() + tools.delay(mail.attempts)
        state = uow.mss.mark_retry(mail.id, worker_id, reason, available_at=due)
        uow.commit()
    return state


def give_back(ctx: ServiceContext, worker_id: str, mail: ClaimedMail) -> None:
    """A claimed message left unsent (the worker stops): pending again, its attempt not counted."""
    with ctx.unit_of_work(WORKER) as uow:
        uow.mss.give_back(mail.id, worker_id)
        uow.commit()


# -- receipts (DSN, MDN, integration-error MDN) ------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """What a receipt says of one recipient (app.integrations.mssante.receipts.RecipientReport)."""

    address: str
    outcome: RecipientOutcome
    reason: str
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptApplied:
    """What applying a receipt changed."""

    tracking_id: str | None  # None: no message of ours
    changed: int  # recipients whose status moved (0 for a duplicate)
    worklist_items: tuple[int, ...] = ()


def apply_receipt(
    ctx: ServiceContext, tracking_id: str | None, original_message_id: str | None, lines: list[ReceiptLine]
) -> ReceiptApplied:
    """Record a DSN or MDN: each recipient's status moves forward only (a duplicate or late receipt
    changes nothing); an identity integration error (902-905) opens an identitovigilance item."""
    with ctx.unit_of_work(WORKER) as uow:
        target = uow.mss.receipt_target(tracking_id, original_message_id)
        if target is None:
            return ReceiptApplied(None, 0)
        tracking, identity_id, recipients = target
        changed, items = 0, []
        for line in lines:
            known = recipients.get(line.address.lower())
            new = status_after(known[1], line.outcome) if known else None
            if (
                known is None
                or new is None
                or not uow.mss.set_recipient(known[0], new, line.reason, uow.now(), known[1])
            ):
                continue
            changed += 1
            recipients[line.address.lower()] = (known[0], new)
            if line.outcome is RecipientOutcome.INTEGRATION_ERROR and line.error_code in IDENTITY_ERRORS:
                items.append(
                    open_item(
                        uow,
                        WorklistKind.MSS_INTEGRATION_ERROR,
                        identity_id,
                        f"mss-{line.error_code}",
                        details={
                            "tracking_id": tracking,
                            "code": line.error_code,
                            "label": INTEGRATION_ERRORS.get(line.error_code or "", ""),
                        },
                        source="mssante",
                    )
                )
        if changed:
            uow.audit(
                "mss.receipt", identity_id, after={"tracking_id": tracking, "changed": changed}, full=True
            )
            uow.commit()
    if changed:
        log.info("MSSanté receipt for %s: %d recipient status(es) changed", tracking, changed)
    return ReceiptApplied(tracking, changed, tuple(items))
