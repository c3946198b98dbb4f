"""Subscriber events stored as rows, on both engines: the migration converts the comma lists (and
back), the API shows each list as it was given, and the outbox fan-out follows the stored list."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlmodel import Session

from app.config import development_settings
from app.db.engine import make_engine
from app.db.hl7_tables import OutboxMessageRow
from app.db.migrations import alembic_config, downgrade, upgrade
from app.services.subscribers import list_subscribers
from app.wiring.context import build_context
from tests.api.test_hl7_api import SUB
from tests.conftest import auth
from tests.integration.hl7_support import ADMIN, new_identity, rename

# The revision just before subscriber_event (whatever migrations are chained before it).
BEFORE = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("2026_11_30_1200").down_revision
_INSERT = text(
    "INSERT INTO subscriber (name, host, port, tls, receiving_application, receiving_facility, charset, "
    "events, ins_ready, enabled, paused, created_at, updated_at) VALUES (:name, '127.0.0.1', 1, :no, 'X', "
    "'CHU-X', 'UNICODE UTF-8', :events, :no, :yes, :no, :now, :now)"
)


def _queued(ctx) -> list[tuple[str, int]]:
    with Session(ctx.engine) as session:
        rows = session.execute(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).scalars()
        return [(r.event, r.subscriber_id) for r in rows]


def _stored_lists(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT name, events FROM subscriber")).all())
    finally:
        engine.dispose()


def test_migration_turns_event_lists_into_rows_and_back(database_url: str, tmp_path) -> None:
    downgrade(database_url, BEFORE)
    try:
        engine = make_engine(database_url)
        with engine.begin() as connection:
            flags = {"no": False, "yes": True, "now": datetime.now(UTC)}
            connection.execute(_INSERT, [{**flags, "name": "DPI", "events": "A31,A28"},
                                         {**flags, "name": "LAB", "events": " a40 ,A31,A40"}])
        engine.dispose()
        upgrade(database_url)
        ctx = build_context(development_settings(database_url=database_url, var_dir=tmp_path / "var"))
        subscribers = {s.name: s for s in list_subscribers(ctx, ADMIN)}
        assert {name: s.events for name, s in subscribers.items()} == {
            "DPI": ("A31", "A28"), "LAB": ("A40", "A31", "A24", "A37")}  # links go with merges
        new_identity(ctx, 1)  # an A28: only DPI wants it
        assert _queued(ctx) == [("A28", subscribers["DPI"].id)]
        ctx.engine.dispose()
        downgrade(database_url, BEFORE)
        assert _stored_lists(database_url) == {"DPI": "A31,A28", "LAB": "A40,A31"}
    finally:
        upgrade(database_url)


def test_events_are_shown_as_given_and_decide_the_fan_out(client, settings, ctx) -> None:
    admin = auth(settings, "admin")
    created = client.post("/subscribers", json={**SUB, "events": "a31, A28,A31"}, headers=admin)
    assert created.status_code == 201 and created.json()["events"] == "A31,A28"  # each event once
    sid = created.json()["id"]
    identity = new_identity(ctx, 1)
    assert _queued(ctx) == [("A28", sid)]
    patched = client.patch(f"/subscribers/{sid}", json={"events": "A31"}, headers=admin)
    assert patched.status_code == 200 and patched.json()["events"] == "A31"
    new_identity(ctx, 2)  # an A28 nobody wants any more
    rename(ctx, identity.id, "MARTIN")
    assert _queued(ctx) == [("A28", sid), ("A31", sid)]
    assert [s["events"] for s in client.get("/subscribers", headers=admin).json()] == ["A31"]
    refused = client.patch(f"/subscribers/{sid}", json={"events": " , "}, headers=admin)
    assert refused.status_code == 409 and refused.json()["field"] == "events"
    assert client.get(f"/subscribers/{sid}", headers=admin).json()["events"] == "A31"
