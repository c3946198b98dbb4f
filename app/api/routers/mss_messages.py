"""MSSanté sending: queue a document for MSSanté mail, follow each message and recipient.

Role documents. ``POST /documents/messages`` checks and builds everything, stores the mail and
answers 202 with its tracking id; the SMTP worker (``identito mss worker``) sends it. Answers
carry recipient addresses: never cached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel

from app.api.deps import CtxDep, require_roles
from app.api.problems import problem_responses
from app.domain.mssante import Action
from app.domain.roles import Role
from app.domain.xds import Author, DocumentMetadata
from app.services import mss
from app.services.context import Actor
from app.services.documents import DocumentTools, IdentityRef
from app.services.mss import MessageView, MssTools, SendOptions

router = APIRouter(tags=["mssante"])
SenderDep = Annotated[Actor, Depends(require_roles(Role.DOCUMENTS))]
MessageState = Literal["pending", "sending", "sent", "failed", "dead"]
TrackingId = Annotated[str, Path(max_length=36)]
RecipientState = Literal["pending", "sent", "delivered", "failed", "read", "integration_error"]


def get_tools(request: Request) -> tuple[DocumentTools, MssTools]:
    """The document and MSSanté tools wired by the composition root."""
    return request.app.state.documents, request.app.state.mss


ToolsDep = Annotated[tuple[DocumentTools, MssTools], Depends(get_tools)]


class RecipientRead(BaseModel):
    """One recipient and where its mail stands."""

    address: str
    status: RecipientState
    reason: str | None
    updated_at: datetime


class MessageRead(BaseModel):
    """A message: its sending state, the document it carries (ids only) and its recipients."""

    tracking_id: str
    message_id: str
    identity_id: int
    document_unique_id: str
    kind: str
    action: str
    ins_sent: bool
    cda: bool
    read_receipt: bool
    size: int
    state: MessageState
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    recipients: list[RecipientRead]

    @classmethod
    def of(cls, view: MessageView) -> MessageRead:
        """API view of a stored message."""
        return cls(
            tracking_id=view.tracking_id,
            message_id=view.message_id,
            identity_id=view.identity_id,
            document_unique_id=view.document_unique_id,
            kind=view.kind,
            action=view.action,
            ins_sent=view.ins_sent,
            cda=view.cda,
            read_receipt=view.read_receipt,
            size=view.size,
            state=view.state,  # type: ignore[arg-type]
            attempts=view.attempts,
            created_at=view.created_at,
            sent_at=view.sent_at,
            next_attempt_at=view.available_at if view.state == "pending" else None,
            last_error=view.last_error,
            recipients=[
                RecipientRead(
                    address=r.address,
                    status=r.status,  # type: ignore[arg-type]
                    reason=r.reason,
                    updated_at=r.updated_at,
                )
                for r in view.recipients
            ],
        )


class MessageList(BaseModel):
    """A page of messages, newest first."""

    items: list[MessageRead]


def _split(values: list[str]) -> list[str]:
    """Recipients given as repeated fields, or comma / line separated in one field."""
    return [part.strip() for value in values for part in value.replace("\n", ",").split(",") if part.strip()]


@router.post(
    "/documents/messages", status_code=202, response_model=MessageRead, responses=problem_responses(404, 413)
)
def send_message(
    ctx: CtxDep,
    tools: ToolsDep,
    actor: SenderDep,
    response: Response,
    file: Annotated[UploadFile, File(description="The PDF to send")],
    recipients: Annotated[list[str], Form(description="MSSanté addresses (repeat, or comma separated)")],
    title: Annotated[str, Form(max_length=250)],
    kind: Annotated[str, Form(max_length=64, description="Document kind (discharge-letter...)")],
    identity_id: Annotated[int | None, Form()] = None,
    ipp: Annotated[str | None, Form(max_length=64)] = None,
    ins: Annotated[str | None, Form(max_length=20, description="Active or historic matricule INS")] = None,
    created_at: Annotated[datetime | None, Form(description="Document creation time (default: now)")] = None,
    author_family: Annotated[str | None, Form(max_length=250)] = None,
    author_given: Annotated[str | None, Form(max_length=250)] = None,
    author_rpps: Annotated[str | None, Form(pattern=r"^\d{11}$")] = None,
    action: Annotated[Literal["send", "replace", "delete"], Form()] = "send",
    previous_unique_id: Annotated[str | None, Form(max_length=64)] = None,
    body: Annotated[str, Form(max_length=20_000)] = "",
    stamp: Annotated[bool, Form(description="Put the INS cover page in front (QUAL only)")] = False,
    cda: Annotated[bool, Form(description="Wrap the PDF in a CDA R2 level 1 document")] = False,
    read_receipt: Annotated[bool, Form(description="Ask for a read receipt (MDN)")] = False,
) -> MessageRead:
    """Check and queue a document for MSSanté: 202 with the tracking id; the SMTP worker sends it."""
    docs, mss_tools = tools
    data = file.file.read(docs.max_upload_bytes + 1)
    moment = created_at or datetime.now(UTC)
    metadata = DocumentMetadata(
        title=title,
        kind=kind,
        created_at=moment if moment.tzinfo else moment.replace(tzinfo=UTC),
        author=Author(family=author_family, given=author_given, rpps=author_rpps),
        action={"send": Action.SEND, "replace": Action.REPLACE, "delete": Action.DELETE}[action],
        previous_unique_id=previous_unique_id,
    )
    view = mss.send_message(
        ctx,
        docs,
        mss_tools,
        actor,
        data,
        IdentityRef(identity_id=identity_id, ipp=ipp, ins=ins),
        metadata,
        _split(recipients),
        body,
        SendOptions(stamp=stamp, cda=cda, read_receipt=read_receipt),
    )
    response.headers["Location"] = f"/documents/messages/{view.tracking_id}"
    response.headers["Cache-Control"] = "no-store"
    return MessageRead.of(view)


@router.get("/documents/messages", response_model=MessageList)
def list_messages(
    ctx: CtxDep,
    actor: SenderDep,
    response: Response,
    state: MessageState | None = None,
    identity_id: int | None = None,
    recipient_status: RecipientState | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MessageList:
    """Messages newest first, by state, identity, a recipient's status or creation time."""
    views = mss.messages(
        ctx,
        actor,
        state=state,
        identity_id=identity_id,
        recipient_status=recipient_status,
        since=since,
        limit=limit,
        offset=offset,
    )
    response.headers["Cache-Control"] = "no-store"
    return MessageList(items=[MessageRead.of(v) for v in views])


@router.get("/documents/messages/{tracking_id}", response_model=MessageRead)
def get_message(
    ctx: CtxDep,
    actor: SenderDep,
    response: Response,
    tracking_id: TrackingId,
) -> MessageRead:
    """One message and each recipient's status."""
    response.headers["Cache-Control"] = "no-store"
    return MessageRead.of(mss.message(ctx, actor, tracking_id))


@router.post("/documents/messages/{tracking_id}/retry", response_model=MessageRead)
def retry_message(ctx: CtxDep, actor: SenderDep, tracking_id: TrackingId) -> MessageRead:
    """Queue a dead letter again (attempts start over)."""
    return MessageRead.of(mss.retry(ctx, actor, tracking_id))
