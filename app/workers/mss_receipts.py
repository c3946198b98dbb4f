"""The MSSanté receipts worker: reads the application mailbox over IMAP, applies each DSN and MDN
to the recipients' statuses (``services.mss.apply_receipt``), marks the mail seen once applied.

A mail that is not a receipt is marked seen and left in the mailbox. A crash between applying and
marking reads the mail again: applying a receipt twice changes nothing the second time.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

from app.integrations.mssante.imap import ImapFailure, ImapReader
from app.integrations.mssante.receipts import parse_report
from app.services import mss
from app.services.context import ServiceContext
from app.services.mss import ReceiptLine

log = logging.getLogger("identito.mss")


class ReceiptWorker:
    """Polls the mailbox every ``poll_seconds`` until ``stop`` is set."""

    def __init__(
        self,
        ctx: ServiceContext,
        reader: Callable[[], ImapReader],
        *,
        poll_seconds: float = 30.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.ctx, self.reader, self.poll_seconds = ctx, reader(), poll_seconds
        self.stop = stop or threading.Event()
        self.counters: Counter[str] = Counter()

    def run(self) -> None:
        """Read receipts until stopped; a mailbox failure is logged and tried again at the next poll."""
        try:
            while not self.stop.is_set():
                try:
                    self.run_once()
                except ImapFailure as failure:
                    self.counters["mailbox_errors"] += 1
                    log.warning("MSSanté mailbox not read: %s", str(failure).split(":")[0])
                self.stop.wait(self.poll_seconds)
        finally:
            self.reader.close()

    def run_once(self) -> int:
        """Handle the unseen mails; returns how many were read."""
        mails = self.reader.unseen()
        for uid, raw in mails:
            report = parse_report(raw)
            if report is None:
                self.counters["not_receipts"] += 1
            else:
                lines = [ReceiptLine(r.address, r.outcome, r.reason, r.error_code) for r in report.recipients]
                applied = mss.apply_receipt(self.ctx, report.envelope_id, report.original_message_id, lines)
                self.counters[f"{report.kind}_{'applied' if applied.changed else 'ignored'}"] += 1
                self.counters["worklist_items"] += len(applied.worklist_items)
            self.reader.mark_seen(uid)
        return len(mails)
