"""Rules the database itself enforces, and the service transaction guarantees, on both engines."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from app.config import development_settings
from app.db.engine import make_engine
from app.db.identities import IdentityRepository
from app.db.migrations import SchemaBehind, check_schema, downgrade, upgrade
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.main import create_app
from app.services import identities
from app.services.errors import StaleVersion
from tests.conftest import actor

DESK = actor("admission")
TRAITS = identities.TraitsInput("DUPONT", "JEAN", "1980-05-17", "M")


def test_an_active_matricule_belongs_to_one_identity(ctx) -> None:
    a = identities.create_identity(ctx, DESK, TRAITS)
    b = identities.create_identity(ctx, DESK, TRAITS, confirm_new=True)  # a duplicate on purpose
    ins = InsRecord(Ins("275126322074974", OID_NIR), True, "INSI")
    with Session(ctx.engine) as session:
        IdentityRepository(session).add_ins(a.id, ins, ctx.now())
        session.commit()
    with Session(ctx.engine) as session, pytest.raises(IntegrityError):
        IdentityRepository(session).add_ins(b.id, ins, ctx.now())
    with Session(ctx.engine) as session:  # as history it is allowed
        IdentityRepository(session).add_ins(b.id, InsRecord(ins.ins, False, "INSI"), ctx.now())
        session.commit()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE identity SET status = 'QUAL', attributes = 'DOUT'",
        "UPDATE identity SET attributes = 'DOUT,FICT'",
        "UPDATE identity SET status = 'XXXX'",
        "UPDATE identity SET sex = 'X'",
    ],
)
def test_forbidden_states_are_refused_by_the_database(ctx, sql: str) -> None:
    identities.create_identity(ctx, DESK, TRAITS)
    with ctx.engine.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(text(sql))
        connection.commit()


def test_audit_trail_is_append_only(ctx) -> None:
    identities.create_identity(ctx, DESK, TRAITS)
    for sql in ("UPDATE audit_event SET actor = 'someone-else'", "DELETE FROM audit_event"):
        with ctx.engine.connect() as connection, pytest.raises(DBAPIError):
            connection.execute(text(sql))
            connection.commit()


def test_concurrent_edits_one_wins_the_other_is_stale(ctx) -> None:
    created = identities.create_identity(ctx, DESK, TRAITS)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def edit(name: str) -> None:
        barrier.wait()
        try:
            identities.update_identity(ctx, DESK, created.id, {"used_name": name}, expected_version=1)
            outcomes.append("ok")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("MARTIN", "DURAND")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale"]
    final = identities.update_identity(ctx, DESK, created.id, {"used_first_name": "JO"}, expected_version=2)
    assert final.version == 3


def test_failed_use_case_leaves_nothing_half_written(ctx) -> None:
    created = identities.create_identity(ctx, DESK, TRAITS)
    cell = actor("identitovigilance")
    with pytest.raises(Exception):
        identities.set_attribute(ctx, cell, created.id, "DOUT", reason=None)
    reloaded = identities.update_identity(ctx, DESK, created.id, {}, expected_version=1)
    assert reloaded.version == 1 and reloaded.attributes == frozenset()


def test_app_refuses_a_database_that_is_behind(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    with pytest.raises(SchemaBehind) as info:
        check_schema(engine)
    assert "identito db upgrade" in str(info.value)
    app = create_app(development_settings(database_url=url))
    with pytest.raises(SchemaBehind), TestClient(app):
        pass


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    downgrade(database_url, "base")
    upgrade(database_url)
    check_schema(make_engine(database_url))
