"""Backup and restore (docs/operations.md): a PostgreSQL database filled through the service is
dumped with pg_dump (custom format), restored with pg_restore into a new database, and the restored
database is the same: every table's rows, the sequences, the outbox state, the audit chain
(``identito audit verify``), the append-only triggers; and the service writes to it again.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from app.config import Settings, development_settings
from app.db.migrations import upgrade
from app.main import build_context
from app.services import audit_chain
from app.services.context import ServiceContext
from app.services.subscribers import set_paused
from app.workers.relay import Relay
from tests.cli_support import clean_env, free_port, identito
from tests.conftest import PG_ADMIN_URL
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import (
    ADMIN,
    MATRICULES,
    drain,
    fast,
    new_identity,
    qualify,
    rename,
    subscriber,
)
from tests.integration.test_hl7_inbound import exchange, pam

pytestmark = pytest.mark.postgres
SECRET = "dev-only-backup-test-secret-0123456789"


def _libpq(name: str) -> str:
    """The libpq URL of a database of the test server."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def databases(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Two new databases (source, restored target), dropped at the end whatever happens."""
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (postgresql-client)")
    request.getfixturevalue("pg_database")  # skips (or fails in CI) when PostgreSQL is unreachable
    suffix = uuid.uuid4().hex[:10]
    names = (f"identito_backup_src_{suffix}", f"identito_backup_dst_{suffix}")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield names
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _settings(name: str, tmp: Path) -> Settings:
    url = _libpq(name).replace("postgresql://", "postgresql+psycopg://")
    return development_settings(database_url=url, var_dir=tmp / "var", language="en",
                                auth={"secret": SECRET, "dev_tokens": True})


def _fill(ctx: ServiceContext, settings: Settings) -> None:
    """Identities, HL7 inbound, outbox rows delivered (one subscriber) and pending (a paused one),
    sealed audit rows and a few not sealed yet."""

    port = free_port()
    subscriber(ctx, "DPI", port)
    paused = subscriber(ctx, "LABO", free_port())
    set_paused(ctx, ADMIN, paused.id, True)
    ids = [new_identity(ctx, n).id for n in range(4)]
    qualify(ctx, ids[0], MATRICULES[0])
    rename(ctx, ids[1], "MARTIN")
    acks = exchange(ctx, settings, pam("BK-1", ipp="000101"), pam("BK-2", ipp="000102", name="PAT-DEUX"))
    assert len(acks) == 2

    async def deliver() -> None:
        receiver = await FakeReceiver().start(port)
        relay = Relay(ctx, fast(settings))
        await drain(relay, lambda: len(receiver.acked) >= 1 and _pending_of(ctx, exclude=paused.id) == 0)
        await relay.close()
        await receiver.close()

    asyncio.run(deliver())
    assert audit_chain.seal_all(ctx) > 0
    rename(ctx, new_identity(ctx, 9, birth_name="APRES").id, "SCELLEMENT")  # audit rows not sealed yet


def _pending_of(ctx: ServiceContext, exclude: int) -> int:
    with ctx.engine.connect() as connection:
        return int(connection.exec_driver_sql(
            "SELECT count(*) FROM outbox_message WHERE state <> 'done' AND subscriber_id <> %(s)s",
            {"s": exclude}).scalar_one())


def _state(name: str) -> dict[str, object]:
    """Everything the restore must keep: each table's row count and content digest, the sequences,
    the outbox state per subscriber."""
    with psycopg.connect(_libpq(name)) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                              "ORDER BY tablename").fetchall()
        state: dict[str, object] = {}
        for (table,) in tables:
            count, digest = conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
            ).format(sql.Identifier(table))).fetchone()
            state[f"table {table}"] = (count, digest)
        for sequence, last in conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"):
            state[f"sequence {sequence}"] = last
        state["outbox"] = conn.execute("SELECT subscriber_id, state, count(*) FROM outbox_message "
                                       "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return state


def _verify(settings: Settings, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env(IDENTITO_ENVIRONMENT="development", IDENTITO_DATABASE_URL=settings.database_url,
                    IDENTITO_AUTH__SECRET=SECRET, IDENTITO_AUTH__DEV_TOKENS="true",
                    IDENTITO_VAR_DIR=str(tmp / "var"), IDENTITO_LANGUAGE="en")
    return identito("audit", "verify", cwd=tmp, env=env)


def test_a_dump_restored_into_a_new_database_is_the_same_database(databases, tmp_path: Path) -> None:
    source, target = databases
    source_settings = _settings(source, tmp_path)
    upgrade(source_settings.database_url)
    ctx = build_context(source_settings)
    try:
        _fill(ctx, source_settings)
    finally:
        ctx.engine.dispose()
    before = _state(source)
    outbox = dict(((s, st), n) for s, st, n in before["outbox"])  # type: ignore[union-attr]
    assert any(st == "done" for _, st in outbox) and any(st == "pending" for _, st in outbox), outbox
    verified_before = _verify(source_settings, tmp_path)
    assert verified_before.returncode == 0, verified_before.stderr
    assert "Audit chain intact" in verified_before.stdout

    dump = tmp_path / "identito.dump"
    dumped = subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), _libpq(source)],
                            capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr
    restored = subprocess.run(["pg_restore", "--exit-on-error", "--no-owner", "--dbname", _libpq(target),
                               str(dump)], capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0, restored.stderr

    after = _state(target)
    assert after == before
    target_settings = _settings(target, tmp_path)
    verified_after = _verify(target_settings, tmp_path)
    assert (verified_after.returncode, verified_after.stdout) == (0, verified_before.stdout)

    # The restored database works as the old one did: writes take new ids, the audit trail stays
    # append-only (its triggers came back), the chain keeps sealing from where it was.
    restored_ctx = build_context(target_settings)
    try:
        created = new_identity(restored_ctx, 20, birth_name="RESTAURE")
        assert created.id > before["sequence identity_id_seq"]  # type: ignore[operator]
        with pytest.raises(Exception, match="append-only"), restored_ctx.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE audit_event SET actor = 'someone-else'")
        assert audit_chain.seal_all(restored_ctx) > 0
        assert audit_chain.verify(restored_ctx).intact
    finally:
        restored_ctx.engine.dispose()
