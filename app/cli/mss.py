"""`identito mss ...`: send a document by MSSanté, follow messages, run the SMTP worker.

``send`` runs the same use case as ``POST /documents/messages`` as the local operator (role
documents) and prints the tracking id; ``status`` and ``list`` show statuses; ``retry`` queues a
dead letter again; ``worker`` sends queued messages until stopped (SIGTERM/Ctrl-C). Exit codes as
the document commands: 2 unusable input, 3 refused by a rule, 4 not found. Output shows ids and
statuses, never patient traits.
"""

from __future__ import annotations

import getpass
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from app.cli.errors import file_error, refused
from app.domain.errors import DomainError

mss_cli = typer.Typer(
    help="MSSanté: send INS-indexed documents, follow their receipts.", no_args_is_help=True
)
KINDS = (
    "discharge-letter, hospital-report, operative-report, consultation-report, imaging-report, lab-report, "
    "prescription (or a configured kind)"
)


def _runtime():  # type: ignore[no-untyped-def]
    from app.cli.core import checked_context
    from app.services.context import Actor

    settings, ctx = checked_context()
    return settings, ctx, Actor(f"cli:{getpass.getuser()}", frozenset({"documents"}), kind="job")


def _show(view) -> None:  # type: ignore[no-untyped-def]
    typer.echo(
        f"{view.tracking_id}  {view.state}  identity {view.identity_id}  attempts {view.attempts}"
        + (f"  ({view.last_error})" if view.last_error and view.state != "sent" else "")
    )
    for r in view.recipients:
        typer.echo(f"  {r.address}  {r.status}" + (f"  {r.reason}" if r.reason else ""))


@mss_cli.command("send")
def send(
    pdf: Annotated[Path, typer.Argument(help="The PDF to send")],
    to: Annotated[list[str], typer.Option("--to", help="Recipient MSSanté address (repeatable)")],
    title: Annotated[str, typer.Option(help="Document title")],
    kind: Annotated[str, typer.Option(help=f"Document kind: {KINDS}")] = "discharge-letter",
    identity: Annotated[int | None, typer.Option("--identity", help="Identity id")] = None,
    ipp: Annotated[str | None, typer.Option("--ipp", help="Local id (IPP)")] = None,
    ins: Annotated[str | None, typer.Option("--ins", help="Matricule INS (active or historic)")] = None,
    body: Annotated[str, typer.Option(help="Message text")] = "",
    author_family: Annotated[str | None, typer.Option(help="Author's family name")] = None,
    author_given: Annotated[str | None, typer.Option(help="Author's given name")] = None,
    author_rpps: Annotated[str | None, typer.Option(help="Author's RPPS (11 digits)")] = None,
    stamp: Annotated[bool, typer.Option(help="INS cover page in front (QUAL only)")] = False,
    cda: Annotated[bool, typer.Option(help="Wrap the PDF in a CDA R2 level 1 document")] = False,
    read_receipt: Annotated[bool, typer.Option(help="Ask for a read receipt (MDN)")] = False,
) -> None:
    """Check and queue PDF for MSSanté; prints the tracking id (the worker sends it)."""
    from app.domain.xds import Author, DocumentMetadata
    from app.services import mss
    from app.services.documents import IdentityRef
    from app.services.mss import SendOptions
    from app.wiring.context import build_document_tools
    from app.wiring.mss import build_mss_tools

    try:
        data = pdf.read_bytes()
    except OSError as error:
        raise file_error(error) from None
    settings, ctx, actor = _runtime()
    metadata = DocumentMetadata(
        title=title,
        kind=kind,
        created_at=datetime.now(UTC),
        author=Author(family=author_family, given=author_given, rpps=author_rpps),
    )
    try:
        view = mss.send_message(
            ctx,
            build_document_tools(settings),
            build_mss_tools(settings),
            actor,
            data,
            IdentityRef(identity_id=identity, ipp=ipp, ins=ins),
            metadata,
            list(to),
            body,
            SendOptions(stamp=stamp, cda=cda, read_receipt=read_receipt),
        )
    except DomainError as error:
        raise refused(error) from None
    typer.echo(view.tracking_id)


@mss_cli.command("status")
def status(tracking_id: Annotated[str, typer.Argument(help="Tracking id")]) -> None:
    """A message's state and each recipient's status."""
    from app.services import mss

    _, ctx, actor = _runtime()
    try:
        _show(mss.message(ctx, actor, tracking_id))
    except DomainError as error:
        raise refused(error) from None


@mss_cli.command("list")
def list_messages(
    state: Annotated[str | None, typer.Option(help="pending, sending, sent, failed or dead")] = None,
    identity: Annotated[int | None, typer.Option("--identity", help="Identity id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Messages newest first."""
    from app.services import mss

    _, ctx, actor = _runtime()
    for view in mss.messages(ctx, actor, state=state, identity_id=identity, limit=limit):
        _show(view)


@mss_cli.command("retry")
def retry(tracking_id: Annotated[str, typer.Argument(help="Tracking id of a dead letter")]) -> None:
    """Queue a dead letter again (attempts start over)."""
    from app.services import mss

    _, ctx, actor = _runtime()
    try:
        _show(mss.retry(ctx, actor, tracking_id))
    except DomainError as error:
        raise refused(error) from None


@mss_cli.command("worker")
def worker(
    once: Annotated[bool, typer.Option(help="Send what is ready now, then exit")] = False,
    threads: Annotated[int, typer.Option(min=1, max=16, help="Sending threads (one connection each)")] = 1,
) -> None:
    """Send queued MSSanté messages over SMTP (STARTTLS) until stopped with SIGTERM/Ctrl-C."""
    from app.integrations.mssante.smtp import SmtpSubmitter
    from app.wiring.mss import build_mss_tools, smtp_config
    from app.workers.mss_sender import MssSender

    settings, ctx, _ = _runtime()
    m, stop = settings.mssante, threading.Event()
    tools, config = build_mss_tools(settings), smtp_config(settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    senders = [
        MssSender(
            ctx,
            tools,
            lambda: SmtpSubmitter(config),
            batch_size=m.worker_batch_size,
            lease_seconds=m.lease_seconds,
            poll_seconds=m.worker_poll_seconds,
            stop=stop,
        )
        for _ in range(threads)
    ]
    if once:
        for sender in senders[:1]:
            while sender.run_once():
                pass
            sender.submitter.close()
        return
    running = [threading.Thread(target=s.run, name=f"mss-sender-{i}") for i, s in enumerate(senders)]
    for thread in running:
        thread.start()
    while any(t.is_alive() for t in running):
        for thread in running:
            thread.join(0.5)


@mss_cli.command("receipts")
def receipts(
    once: Annotated[bool, typer.Option(help="Read what is in the mailbox now, then exit")] = False,
) -> None:
    """Read DSNs and MDNs from the application mailbox (IMAP, STARTTLS) and update the statuses."""
    from app.integrations.mssante.imap import ImapReader
    from app.wiring.mss import imap_config
    from app.workers.mss_receipts import ReceiptWorker

    settings, ctx, _ = _runtime()
    stop, config = threading.Event(), imap_config(settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = ReceiptWorker(
        ctx, lambda: ImapReader(config), poll_seconds=settings.mssante.receipts_poll_seconds, stop=stop
    )
    if once:
        worker.run_once()
        worker.reader.close()
        typer.echo(", ".join(f"{k} {v}" for k, v in sorted(worker.counters.items())) or "0")
        return
    worker.run()
