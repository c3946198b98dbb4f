"""The audit sealer of ``identito worker``: a thread that seals new audit rows into the hash chain
(``app.services.audit_chain``) every few seconds, until the worker stops."""

from __future__ import annotations

import logging
import threading

from app.services import audit_chain
from app.services.context import ServiceContext
from app.workers.periodic import PeriodicJob

log = logging.getLogger("identito.audit")
SEAL_POLL_SECONDS = 5.0  # how stale the chain may get: rows younger than this may be unsealed


class AuditSealer(PeriodicJob):
    """Seals the audit trail until ``stop`` is set."""

    def __init__(
        self, ctx: ServiceContext, stop: threading.Event, poll_seconds: float = SEAL_POLL_SECONDS
    ) -> None:
        super().__init__("audit-sealer", lambda: audit_chain.seal(ctx), stop, poll_seconds, log)
