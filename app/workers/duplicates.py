"""The duplicate detection jobs of ``identito worker``: the check of every identity change after
its commit, and the full scans asked through the API.

Two threads beside the campaign runner: the check drains the detection queue in batches (one
transaction each) and waits ``check_poll_seconds`` when it is empty; the scan thread claims a
queued scan (or one whose runner stopped beating) and runs it, chunk by chunk, until done or until
the worker stops (it is then resumable). Both change the database only through service use cases.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from app.config import DuplicatesSettings
from app.services import duplicate_scan, duplicates
from app.services.context import ServiceContext

log = logging.getLogger("identito.duplicates")


class DuplicateWorker:
    """Detection and scan loops, stopped by ``stop``."""

    def __init__(self, ctx: ServiceContext, settings: DuplicatesSettings, stop: threading.Event,
                 runner: str | None = None) -> None:
        self.ctx, self.settings, self.stop = ctx, settings, stop
        self.runner = runner or f"{socket.gethostname()}:{os.getpid()}"

    def check_once(self) -> int:
        """One batch of the detection queue; how many changes it took."""
        return duplicates.check_changes(self.ctx, batch=self.settings.check_batch).changes

    def run_checks(self) -> None:
        """Drain the detection queue until stopped; idle while it is empty."""
        while not self.stop.is_set():
            try:
                if self.check_once():
                    continue
            except Exception as exc:  # the database went away, a deadlock: the batch is retried later
                log.warning("duplicate check failed (%s); retrying", type(exc).__name__)
            self.stop.wait(self.settings.check_poll_seconds)

    def scan_once(self) -> bool:
        """Run the next scan to run, if any (until done or stopped); whether there was one."""
        scan = duplicate_scan.claim_scan(self.ctx, self.runner, self.settings.scan_lease_seconds)
        if scan is None:
            return False
        log.info("duplicate scan %s: running (resumes after identity %s)", scan.id, scan.cursor_id)
        duplicate_scan.run_scan(self.ctx, scan.id, self.runner, chunk=self.settings.scan_chunk,
                                processes=self.settings.scan_processes, stop=self.stop.is_set)
        return True

    def run_scans(self) -> None:
        """Run scans as they are asked for, until stopped."""
        while not self.stop.is_set():
            try:
                if self.scan_once():
                    continue
            except Exception as exc:  # recorded as failed by run_scan; the loop goes on
                log.warning("duplicate scan loop: %s", type(exc).__name__)
            self.stop.wait(self.settings.check_poll_seconds * 5)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Both loops in threads while the block runs; stopped and joined at its end."""
        threads = [threading.Thread(target=self.run_checks, name="duplicate-check", daemon=True),
                   threading.Thread(target=self.run_scans, name="duplicate-scan", daemon=True)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()
