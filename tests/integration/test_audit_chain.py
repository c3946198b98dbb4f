"""The audit trail's hash chain on both engines: sealed rows verify; a row changed, removed or
slipped in behind the database's triggers is found, and the first broken row is named."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.services import audit_chain
from tests.api.test_cli_errors import _env
from tests.cli_support import identito
from tests.integration.hl7_support import new_identity, rename


def _behind_the_triggers(ctx, statement: str) -> None:
    """What a database owner can do: switch the append-only triggers off, write, switch them on."""
    with ctx.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off
            connection.execute(text(statement))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))
            connection.execute(text(statement))
            for event in ("UPDATE", "DELETE"):
                connection.execute(text(
                    f"CREATE TRIGGER audit_event_no_{event.lower()} BEFORE {event} ON audit_event "
                    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"))


def _trail(ctx, n: int = 3) -> list[int]:
    for i in range(n):
        identity = new_identity(ctx, i)
        rename(ctx, identity.id, "MARTIN")
    with ctx.engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM audit_event ORDER BY id")).scalars())


def test_a_sealed_trail_verifies_and_new_rows_wait_for_their_seal(ctx) -> None:
    ids = _trail(ctx)
    assert audit_chain.seal_all(ctx, batch=2) == len(ids)  # several batches, one chain
    report = audit_chain.verify(ctx)
    assert report.intact and report.sealed == len(ids) and report.unsealed == 0
    rename(ctx, 1, "PETIT")
    report = audit_chain.verify(ctx)
    assert report.intact and report.unsealed == 1 and report.oldest_unsealed_id == ids[-1] + 1
    assert audit_chain.seal(ctx) == 1 and audit_chain.seal(ctx) == 0
    assert audit_chain.verify(ctx).sealed == len(ids) + 1


def test_the_database_refuses_to_change_a_seal(ctx) -> None:
    _trail(ctx, 1)
    audit_chain.seal_all(ctx)
    with pytest.raises(Exception, match="append-only"), ctx.engine.begin() as connection:
        connection.execute(text("UPDATE audit_seal SET hash = 'x'"))


@pytest.mark.parametrize("tamper", ["change", "remove", "insert-below"])
def test_a_row_changed_behind_the_triggers_back_is_named(ctx, tamper: str) -> None:
    ids = _trail(ctx)
    audit_chain.seal_all(ctx)
    target = ids[2]
    if tamper == "change":
        _behind_the_triggers(ctx, f"UPDATE audit_event SET reason = 'rewritten' WHERE id = {target}")
    elif tamper == "remove":
        _behind_the_triggers(ctx, f"DELETE FROM audit_event WHERE id = {target}")
    else:  # a row slipped in with an old date and an id below the sealed ones
        _behind_the_triggers(ctx, f"DELETE FROM audit_event WHERE id = {target}")
        _behind_the_triggers(
            ctx, "INSERT INTO audit_event (id, identity_id, at, actor, roles, action, before, after, reason) "
                 f"VALUES ({target}, 1, '2026-01-01 00:00:00', 'intruder', '', 'identity.updated', "
                 "NULL, NULL, NULL)")
    report = audit_chain.verify(ctx)
    assert not report.intact and report.broken is not None
    assert report.broken.audit_id == target and report.sealed == 2  # the rows before it are intact
    assert report.broken.kind == ("missing" if tamper == "remove" else "changed")


def test_the_command_line_verifies_and_names_the_first_broken_row(ctx, settings, tmp_path) -> None:
    ids = _trail(ctx, 2)
    env = {**_env(settings, tmp_path), "IDENTITO_LANGUAGE": "en"}
    sealed = identito("audit", "seal", cwd=tmp_path, env=env)
    assert sealed.returncode == 0 and f"{len(ids)} audit rows sealed" in sealed.stdout, sealed.stderr
    ok = identito("audit", "verify", cwd=tmp_path, env=env)
    assert ok.returncode == 0 and f"Audit chain intact: {len(ids)} rows sealed" in ok.stdout
    _behind_the_triggers(ctx, f"UPDATE audit_event SET actor = 'someone-else' WHERE id = {ids[1]}")
    broken = identito("audit", "verify", cwd=tmp_path, env={**env, "IDENTITO_LANGUAGE": "fr"})
    assert broken.returncode == 1
    assert f"Chaîne d'audit ROMPUE au scellé 2 : la ligne d'audit {ids[1]} a été modifiée" in broken.stderr
