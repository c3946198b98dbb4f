"""The MSSanté SMTP worker: claims queued messages, submits them, records each outcome.

One persistent STARTTLS connection per worker (``SmtpSubmitter``). A message is claimed with a
lease and its attempt counted; the mail's bytes (its Message-ID included) were fixed when it was
accepted, so a retry, or a resend after the worker died mid-send (the lease expires, another
claim takes it), sends the same mail. Outcomes: accepted -> ``sent`` (recipients refused with
5xx -> ``failed``); refused for good -> ``failed``; 4xx, connection or TLS failure -> retried
after a backoff, ``dead`` at ``max_attempts`` (an operator may queue it again). Several workers
may run on PostgreSQL (SKIP LOCKED claims).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable

from app.integrations.mssante.smtp import PermanentFailure, SmtpSubmitter, TemporaryFailure
from app.services import mss
from app.services.context import ServiceContext
from app.services.mss import MssTools

log = logging.getLogger("identito.mss")


class MssSender:
    """One sending worker (a thread or a process)."""

    def __init__(
        self,
        ctx: ServiceContext,
        tools: MssTools,
        submitter: Callable[[], SmtpSubmitter],
        *,
        batch_size: int = 20,
        lease_seconds: float = 300.0,
        poll_seconds: float = 2.0,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.ctx, self.tools = ctx, tools
        self.submitter = submitter()
        self.batch_size, self.lease_seconds, self.poll_seconds = batch_size, lease_seconds, poll_seconds
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10000}"
        self.stop = stop or threading.Event()
        self.counters: Counter[str] = Counter()

    def run(self) -> None:
        """Send until ``stop`` is set; wait ``poll_seconds`` when nothing is ready."""
        try:
            while not self.stop.is_set():
                if self.run_once() == 0:
                    self.stop.wait(self.poll_seconds)
        finally:
            self.submitter.close()

    def run_once(self) -> int:
        """Claim a batch and send it; returns how many messages were claimed."""
        claimed = mss.claim(self.ctx, self.worker_id, self.batch_size, self.lease_seconds)
        for index, mail in enumerate(claimed):
            if self.stop.is_set():
                for left in claimed[index:]:
                    mss.give_back(self.ctx, self.worker_id, left)
                break
            self._send(mail)
        return len(claimed)

    def _send(self, mail: mss.ClaimedMail) -> None:
        try:
            refused = (
                self.submitter.submit(mail.sender, mail.recipients, mail.mail, mail.tracking_id)
                if mail.recipients
                else {}
            )
        except PermanentFailure as failure:
            mss.record_failed(self.ctx, self.worker_id, mail, failure.reason)
            self.counters["failed"] += 1
            log.warning("MSSanté message %s refused for good", mail.tracking_id)
            return
        except TemporaryFailure as failure:
            state = mss.record_temporary(self.ctx, self.tools, self.worker_id, mail, failure.reason)
            self.counters["dead" if state == "dead" else "retried"] += 1
            log.warning(
                "MSSanté message %s not sent (attempt %d): %s%s",
                mail.tracking_id,
                mail.attempts,
                failure.reason.split(":")[0],
                ", now a dead letter" if state == "dead" else "",
            )
            return
        mss.record_sent(self.ctx, self.worker_id, mail, refused)
        self.counters["sent"] += 1
        self.counters["recipients_refused"] += len(refused)
        log.info("MSSanté message %s sent (%d recipient(s) refused)", mail.tracking_id, len(refused))
