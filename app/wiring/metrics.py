"""Gauges for /metrics: identities by status, outbound queues per subscriber, duplicate detection,
the name-head counts' fold backlog."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from app.services import duplicates, outbox_ops, queries
from app.services.context import ServiceContext


def identity_counts(ctx: ServiceContext, ttl: float = 15.0) -> Callable[[], list[str]]:
    """Identities per status, counted at most every ``ttl`` seconds (a count scans the table)."""
    cache: dict[str, object] = {"at": float("-inf"), "lines": []}

    def collect() -> list[str]:
        if time.monotonic() - float(cache["at"]) > ttl:  # type: ignore[arg-type]
            lines = ["# TYPE identito_identities gauge"]
            lines += [f'identito_identities{{status="{status}"}} {count}'
                      for status, count in queries.identity_counts(ctx).items()]
            cache.update(at=time.monotonic(), lines=lines)
        return list(cache["lines"])  # type: ignore[call-overload]

    return collect


def outbox_metrics(ctx: ServiceContext) -> Callable[[], list[str]]:
    """Prometheus lines: queue depth, oldest pending age and dead letters per subscriber."""

    def collect() -> list[str]:
        now = datetime.now(UTC)
        lines = [
            "# TYPE identito_outbox_pending gauge",
            "# TYPE identito_outbox_oldest_pending_seconds gauge",
            "# TYPE identito_outbox_dead gauge",
        ]
        for name, s in outbox_ops.queue_gauges(ctx):
            label = f'subscriber="{name.replace(chr(34), "")}"'
            age = outbox_ops.oldest_age_seconds(s, now)
            lines += [
                f"identito_outbox_pending{{{label}}} {s.pending}",
                f"identito_outbox_oldest_pending_seconds{{{label}}} {age:.3f}",
                f"identito_outbox_dead{{{label}}} {s.dead}",
            ]
        return lines

    return collect


def duplicate_metrics(ctx: ServiceContext) -> Callable[[], list[str]]:
    """Prometheus lines: identity changes waiting for the duplicate detection job (a lag alarm)."""

    def collect() -> list[str]:
        return ["# TYPE identito_duplicate_checks_queued gauge",
                f"identito_duplicate_checks_queued {duplicates.queued_changes(ctx)}"]

    return collect


def name_count_metrics(ctx: ServiceContext) -> Callable[[], list[str]]:
    """Prometheus lines: name-head count deltas not yet folded (a stopped worker makes it grow, and
    the FHIR name-prefix totals slower; docs/operations.md)."""

    def collect() -> list[str]:
        return ["# TYPE identito_name_count_deltas_pending gauge",
                f"identito_name_count_deltas_pending {queries.name_count_backlog(ctx)}"]

    return collect
