"""Glue the composition root uses: the quarantine re-run processor and the outbox metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session

from app.config import Settings
from app.db.hl7_tables import SubscriberRow
from app.db.outbox import queue_stats
from app.integrations.hl7.er7 import UTF8, codec_of
from app.integrations.hl7.parse import parse_ack, sniff_header
from app.services.quarantine import Processor
from app.services.context import ServiceContext
from app.workers.mllp_listener import InboundHandler


def rerun_processor(ctx: ServiceContext, settings: Settings) -> Processor:
    """Run a (possibly operator-fixed) message through the inbound pipeline; (MSA-1, ACK text).

    The ACK answers the message the sender sent (``original``): a resend of it gets this ACK.
    """
    handler = InboundHandler(ctx, settings)

    def process(message: bytes | str, original: bytes | None = None) -> tuple[str, str]:
        if isinstance(message, str):
            header = sniff_header(message.encode("utf-8"))
            message = message.encode(codec_of(header.charset) if header else "utf-8", errors="replace")
        ack = handler.process(message, answers=original)
        ack_header = sniff_header(ack)
        return parse_ack(ack).code, ack.decode(
            codec_of(ack_header.charset if ack_header else UTF8), "replace"
        )

    return process


def outbox_metrics(ctx: ServiceContext) -> Callable[[], list[str]]:
    """Prometheus lines: queue depth, oldest pending age and dead letters per subscriber."""

    def collect() -> list[str]:
        now = datetime.now(UTC)
        with Session(ctx.engine) as session:
            names = dict(session.execute(select(SubscriberRow.id, SubscriberRow.name)).all())
            stats = queue_stats(session)
        lines = [
            "# TYPE identito_outbox_pending gauge",
            "# TYPE identito_outbox_oldest_pending_seconds gauge",
            "# TYPE identito_outbox_dead gauge",
        ]
        for s in stats:
            label = f'subscriber="{str(names.get(s.subscriber_id, s.subscriber_id)).replace(chr(34), "")}"'
            oldest = s.oldest_pending_at
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age = (now - oldest).total_seconds() if oldest else 0.0
            lines += [
                f"identito_outbox_pending{{{label}}} {s.pending}",
                f"identito_outbox_oldest_pending_seconds{{{label}}} {max(age, 0.0):.3f}",
                f"identito_outbox_dead{{{label}}} {s.dead}",
            ]
        return lines

    return collect
