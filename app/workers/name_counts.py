"""The folding of the name-head count deltas (``app.db.name_heads``) in ``identito worker``: every few
seconds, so that the count of a name prefix (FHIR's Bundle.total) sums a few deltas, not thousands."""

from __future__ import annotations

import logging
import threading

from app.services import queries
from app.services.context import ServiceContext
from app.workers.periodic import PeriodicJob

log = logging.getLogger("identito.search")
FOLD_POLL_SECONDS = 10.0


class NameCountFolder(PeriodicJob):
    """Folds the name-head count deltas until ``stop`` is set."""

    def __init__(
        self, ctx: ServiceContext, stop: threading.Event, poll_seconds: float = FOLD_POLL_SECONDS
    ) -> None:
        super().__init__("name-count-folder", lambda: queries.fold_name_counts(ctx), stop, poll_seconds, log)
