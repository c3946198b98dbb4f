"""The unit of work's last writes go with the COMMIT (one round trip on PostgreSQL): all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.db.errors import DuplicateKey
from app.db.hl7_tables import InboundMessageRow
from app.db.tables import AuditEventRow
from app.services.context import Actor

ACTOR = Actor("test", frozenset({"admin"}))


def _row(control_id: str) -> dict[str, object]:
    return {
        "sender": "GAM^X",
        "control_id": control_id,
        "event": "A31",
        "received_at": datetime.now(UTC),
        "ack_code": "AA",
        "ack": "MSH|...",
        "identity_id": None,
    }


def _count(ctx, row_type) -> int:
    with Session(ctx.engine) as session:
        return session.execute(select(func.count()).select_from(row_type)).scalar_one()


def test_the_last_writes_and_the_commit_land_together(ctx):
    with ctx.unit_of_work(ACTOR) as uow:
        uow.audit("test.written", None, None, {"n": 1}, full=True)
        uow.insert_at_commit(InboundMessageRow.__table__, [_row("C1"), _row("C2")])
        uow.commit()
    assert _count(ctx, InboundMessageRow) == 2
    assert _count(ctx, AuditEventRow) == 1


def test_an_error_in_a_pipelined_write_is_the_usual_storage_error_and_nothing_lands(ctx):
    with pytest.raises(DuplicateKey), ctx.unit_of_work(ACTOR) as uow:
        uow.audit("test.not-written", None, None, {"n": 1}, full=True)
        uow.insert_at_commit(InboundMessageRow.__table__, [_row("DUP"), _row("DUP")])  # unique
        uow.commit()
    assert _count(ctx, InboundMessageRow) == 0
    assert _count(ctx, AuditEventRow) == 0
    # The connection went back to the pool usable: the next unit of work commits.
    with ctx.unit_of_work(ACTOR) as uow:
        uow.insert_at_commit(InboundMessageRow.__table__, [_row("AFTER")])
        uow.commit()
    assert _count(ctx, InboundMessageRow) == 1
