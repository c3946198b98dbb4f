"""A housekeeping job of ``identito worker``: a thread that runs a step until the worker stops. The
step does one batch of work and says how much it did; it runs again at once after some work, else
after ``poll_seconds``. A failed step (database away, a concurrent runner) is retried at the next poll."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class PeriodicJob:
    """Runs ``step`` until ``stop`` is set."""

    def __init__(self, name: str, step: Callable[[], int], stop: threading.Event, poll_seconds: float,
                 log: logging.Logger) -> None:
        self.name, self.step, self.stop, self.poll_seconds, self.log = name, step, stop, poll_seconds, log

    def run(self) -> None:
        """Run the step, then wait when it found nothing to do; a failure is retried."""
        while not self.stop.is_set():
            try:
                if self.step():
                    continue
            except Exception as exc:  # noqa: BLE001 - retried at the next poll
                self.log.warning("%s failed (%s); retrying", self.name, type(exc).__name__)
            self.stop.wait(self.poll_seconds)

    @contextmanager
    def running(self) -> Iterator[None]:
        """The job in a thread while the block runs; stopped and joined at its end."""
        thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self.stop.set()
            thread.join()
