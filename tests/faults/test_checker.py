"""The checker fails when it should: a lost delivery, a reordering, a duplicate that is not the
same message, an acknowledged message not stored, a half-written history."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from app.config import development_settings
from app.workers.relay import Relay
from tests.faults.checker import Figures, check, check_history, outbox_open
from tests.faults.harness import gam_messages
from tests.integration.hl7_support import drain, fast, new_identity, rename, subscriber
from tests.integration.test_hl7_crash import ThreadedReceiver
from tests.integration.test_hl7_inbound import exchange


def test_the_checker_catches_what_it_must(ctx, pg_url, tmp_path):
    settings = development_settings(database_url=pg_url, var_dir=tmp_path / "var", language="en")
    downstream = ThreadedReceiver()
    try:
        subscriber(ctx, "DPI", downstream.receiver.port)
        messages = gam_messages("CHK", 2, 2)
        assert all(b"MSA|AA|" in ack for ack in exchange(ctx, settings, *messages))

        async def deliver() -> None:
            relay = Relay(ctx, fast(settings))
            await drain(relay, lambda: outbox_open(ctx) == 0)
            await relay.close()

        asyncio.run(deliver())
    finally:
        downstream.close()
    received, acked = list(downstream.receiver.received), list(downstream.receiver.acked)
    figures = check(ctx, Figures("checker self-test"), messages, {"DPI": downstream.receiver})
    assert (figures.acknowledged, figures.delivered, figures.lost) == (6, 6, 0)

    def fails(receiver: SimpleNamespace, match: str, acknowledged: list[bytes] = messages) -> None:
        with pytest.raises(AssertionError, match=match):
            check(ctx, Figures("broken"), acknowledged, {"DPI": receiver})  # type: ignore[dict-item]

    fails(SimpleNamespace(received=received, acked=acked[:-1]), "never acknowledged")
    first, later = received[0], received[2]  # the creation and the first update of one patient
    assert first.split(b"PID|")[1].split(b"|")[2] == later.split(b"PID|")[1].split(b"|")[2]
    fails(SimpleNamespace(received=[later, *received[:2], *received[3:]], acked=acked), "order")
    altered = received[0].replace(b"PAT-TROIS", b"PAT-TROIX")
    fails(SimpleNamespace(received=[*received, altered], acked=acked), "not identical")
    fails(SimpleNamespace(received=received, acked=acked), "not stored",
          [*messages, *gam_messages("NEVER", 1, 0)])
    with ctx.engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox_message WHERE id = (SELECT max(id) FROM outbox_message)"))
    fails(SimpleNamespace(received=received, acked=acked), "outbox rows per subscriber")


def test_check_history_catches_a_half_written_change(ctx):
    """Writes without the GAM (REST, desk): an identity whose live outbox row or audit row is
    missing fails ``check_history``; a replay row is not counted as a change."""
    subscriber(ctx, "DPI", 9)
    identity = new_identity(ctx, 1)
    rename(ctx, identity.id, "NOMA")
    audit = check_history(ctx)
    assert [row.get("used_name") for row in audit[identity.id]] == [None, "NOMA"]
    with ctx.engine.begin() as connection:
        connection.execute(text("UPDATE outbox_message SET kind = 'replay' WHERE id = "
                                "(SELECT max(id) FROM outbox_message)"))
    with pytest.raises(AssertionError, match="live outbox rows per subscriber = \\[2, 2, 1\\]"):
        check_history(ctx)
    with pytest.raises(AssertionError, match="= \\[2, 1\\]"):
        check_history(ctx, audited=False)
