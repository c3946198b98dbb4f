"""Hot-path statements run on the driver (PostgreSQL) store and fail exactly as through SQLAlchemy;
deferred saves of rows locked ahead are seen by every later statement and land only with the commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db.engine import Precompiled
from app.db.errors import StaleRow
from app.db.hl7_tables import InboundMessageRow
from app.db.identities import IdentityRepository
from app.db.tables import AuditEventRow, IdentityRow
from app.services.context import Actor
from app.services.identities import TraitsInput, create_identity

AUDIT = AuditEventRow.__table__
INBOUND = InboundMessageRow.__table__
EDITOR = Actor("t", frozenset({"admission"}))
TRAITS = TraitsInput(birth_name="DUPONT", first_names="MARIE", birth_date="1980-03-17", sex="F")


def _audit(action: str, before: object, after: object) -> dict[str, object]:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return {"identity_id": None, "at": at, "actor": "t", "roles": "admin",
            "action": action, "before": before, "after": after, "reason": None}


def test_json_and_null_values_are_stored_as_sqlalchemy_stores_them(ctx):
    values = {"n": 1, "name": "HÉLÈNE", "list": [1, None]}
    fast = Precompiled(insert(AUDIT).inline(), by_keys=True)
    with Session(ctx.engine) as session:
        connection = session.connection()
        connection.execute(insert(AUDIT), [_audit("via.sqlalchemy", None, values)])
        fast.execute(connection, [_audit("via.driver", None, values), _audit("via.driver.2", None, {})])
        session.commit()
    with Session(ctx.engine) as session:
        rows = session.execute(
            select(AUDIT.c.action, AUDIT.c.before, AUDIT.c.after, AUDIT.c.at).order_by(AUDIT.c.id)
        ).all()
        null_before = session.execute(
            text("SELECT action FROM audit_event WHERE before IS NULL ORDER BY id")
        ).scalars().all()
    assert [(r.action, r.before, r.after) for r in rows] == [
        ("via.sqlalchemy", None, values), ("via.driver", None, values), ("via.driver.2", None, {})
    ]
    assert rows[0].at == rows[1].at
    # None is stored the same way on both paths (whichever SQL value SQLAlchemy picks for it).
    assert ("via.sqlalchemy" in null_before) == ("via.driver" in null_before)


def test_a_duplicate_is_an_integrity_error_without_parameters_and_the_connection_stays_usable(ctx):
    fast = Precompiled(insert(INBOUND).inline(), by_keys=True)
    row = {"sender": "GAM^X", "control_id": "C1", "event": "A31", "received_at": datetime.now(UTC),
           "ack_code": "AA", "ack": "MSH|..."}
    with Session(ctx.engine) as session:
        fast.execute(session.connection(), row)
        with pytest.raises(IntegrityError) as caught:
            fast.execute(session.connection(), row)
        assert "MSH|..." not in str(caught.value)  # parameters (traits, messages) stay out of logs
        session.rollback()
    with Session(ctx.engine) as session:
        fast.execute(session.connection(), row | {"control_id": "C2"})
        session.commit()
        assert session.execute(select(INBOUND.c.control_id)).scalars().all() == ["C2"]


def test_a_save_at_a_stale_version_is_refused(ctx):
    identity = create_identity(ctx, EDITOR, TRAITS)
    with Session(ctx.engine) as session:
        repo = IdentityRepository(session)
        loaded = repo.get(identity.id, for_update=True)
        assert loaded is not None
        with pytest.raises(StaleRow):
            repo.save(loaded, expected_version=loaded.version + 1, now=datetime.now(UTC))
        assert repo.save(loaded, expected_version=loaded.version, now=datetime.now(UTC)) == loaded.version + 1
        session.commit()
    with Session(ctx.engine) as session:
        assert IdentityRepository(session).get(identity.id).version == identity.version + 1


def test_sqlalchemy_errors_do_not_show_parameters(ctx):
    row = {"sender": "GAM^X", "control_id": "C1", "event": "A31", "received_at": datetime.now(UTC),
           "ack_code": "AA", "ack": "DUPONT^MARIE"}
    with Session(ctx.engine) as session:
        session.connection().execute(insert(INBOUND), row)
        with pytest.raises(IntegrityError) as caught:
            session.connection().execute(insert(INBOUND), row)
    assert "DUPONT^MARIE" not in str(caught.value)


def _used_name_in_db(ctx, identity_id: int) -> tuple[str | None, int]:
    with Session(ctx.engine) as session:
        row = session.execute(
            select(IdentityRow.used_name, IdentityRow.version).where(IdentityRow.id == identity_id)
        ).one()
    return row.used_name, row.version


def _locked_ahead_and_saved(uow, identity, used_name: str) -> int:
    uow.identities.lock_by_ipps([(identity.ipp, identity.ipp_authority)])
    loaded = uow.identities.get_by_ipp(identity.ipp, for_update=True)
    changed = replace(loaded, traits=loaded.traits.with_changes(used_name=used_name))
    return uow.identities.save(changed, expected_version=loaded.version, now=datetime.now(UTC))


def test_a_save_of_a_row_locked_ahead_is_seen_by_later_statements_and_lands_with_the_commit(ctx):
    identity = create_identity(ctx, EDITOR, TRAITS)
    with ctx.unit_of_work(EDITOR) as uow:
        version = _locked_ahead_and_saved(uow, identity, "DURAND")
        seen = uow.identities.get(identity.id)  # a later statement on identity rows
        assert seen.traits.used_name == "DURAND"  # the same transaction reads its own save
        again = uow.identities.get_by_ipp(identity.ipp, for_update=True)  # asked again: from the database
        assert (again.traits.used_name, again.version) == ("DURAND", version)
        uow.commit()
    assert _used_name_in_db(ctx, identity.id) == ("DURAND", identity.version + 1)


def test_a_unit_of_work_left_without_commit_writes_none_of_its_saves(ctx):
    identity = create_identity(ctx, EDITOR, TRAITS)
    with ctx.unit_of_work(EDITOR) as uow:
        _locked_ahead_and_saved(uow, identity, "DURAND")
    assert _used_name_in_db(ctx, identity.id) == (None, identity.version)
