"""The audit sealer of ``identito worker``: a thread that seals new audit rows into the hash chain
(``app.services.audit_chain``) every few seconds, until the worker stops."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from app.services import audit_chain
from app.services.context import ServiceContext

log = logging.getLogger("identito.audit")
SEAL_POLL_SECONDS = 5.0  # how stale the chain may get: rows younger than this may be unsealed


class AuditSealer:
    """Seals the audit trail until ``stop`` is set."""

    def __init__(
        self, ctx: ServiceContext, stop: threading.Event, poll_seconds: float = SEAL_POLL_SECONDS
    ) -> None:
        self.ctx, self.stop, self.poll_seconds = ctx, stop, poll_seconds

    def run(self) -> None:
        """Seal what is new, then wait; a failure (database away, a concurrent sealer) is retried."""
        while not self.stop.is_set():
            try:
                if audit_chain.seal(self.ctx):
                    continue
            except Exception as exc:  # noqa: BLE001 - retried at the next poll
                log.warning("audit sealing failed (%s); retrying", type(exc).__name__)
            self.stop.wait(self.poll_seconds)

    @contextmanager
    def running(self) -> Iterator[None]:
        """The sealer in a thread while the block runs; stopped and joined at its end."""
        thread = threading.Thread(target=self.run, name="audit-sealer", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self.stop.set()
            thread.join()
