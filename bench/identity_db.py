"""The benchmark database: create (PostgreSQL), migrate, seed, analyse, and sample query parameters."""

from __future__ import annotations

import os
import random
from datetime import date
from typing import Any

import psycopg
from rich.console import Console
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from app.db.engine import make_engine
from app.db.migrations import current_revision, upgrade
from app.db.name_heads import NameHeadCounts
from app.db.tables import IdentityRow, InsRow
from bench.identity_data import SeedReport, seed


def _admin_conninfo(database_url: str) -> tuple[str, str]:
    url = make_url(database_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    return admin, str(url.database)


def _recreate_pg(database_url: str, *, drop: bool) -> None:
    admin, name = _admin_conninfo(database_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and drop:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if drop or not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _revision(database_url: str) -> str | None:
    engine = make_engine(database_url, pool_size=1)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _count(database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine) as session:
            return int(session.execute(select(func.count()).select_from(IdentityRow)).scalar_one())
    finally:
        engine.dispose()


def prepare_database(database_url: str, count: int, *, reuse: bool, owned: bool, batch_size: int,
                     console: Console) -> SeedReport | None:
    """A migrated database holding `count` identities; returns the seeding report (None if reused).

    `owned` databases (the default PostgreSQL one) are dropped and created again unless reused with
    the right size; a database given by the caller is never dropped and must be empty or of size N.
    """
    is_pg = make_url(database_url).get_backend_name() == "postgresql"
    if is_pg and owned:
        _recreate_pg(database_url, drop=not reuse)
    before = _revision(database_url)
    upgrade(database_url)
    existing = _count(database_url)
    if reuse and existing == count:
        console.print(f"reusing the database: {existing:,} identities already there")
        if before not in (None, _revision(database_url)):
            # A migration rebuilt indexes (e.g. 2026_12_04_0900): the planner needs the statistics of
            # their expressions again, as after a seeding.
            engine = make_engine(database_url, pool_size=1)
            try:
                _analyse(engine, is_pg, console)
            finally:
                engine.dispose()
        return None
    if existing and owned and is_pg:
        _recreate_pg(database_url, drop=True)
        upgrade(database_url)
    elif existing:
        raise SystemExit(f"the database already holds {existing:,} identities (asked for {count:,}): "
                         "give an empty database, or --reuse with -n equal to its size")
    engine = make_engine(database_url, pool_size=1)
    try:
        report = seed(engine, count, batch_size=batch_size)
        _analyse(engine, is_pg, console)
    finally:
        engine.dispose()
    return report


def _analyse(engine: Any, is_pg: bool, console: Console) -> None:
    """Fold the name-head count deltas of a bulk load (what ``identito worker`` would do within
    seconds), refresh planner statistics (what autovacuum would do later)."""
    console.print("folding the name counts, analysing tables ...")
    while True:
        with Session(engine) as session:
            moved = NameHeadCounts(session).fold(200_000)
            session.commit()
        if not moved:
            break
    if is_pg:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("VACUUM (ANALYZE) identity"))
            connection.execute(text("VACUUM (ANALYZE) ins"))
            connection.execute(text("VACUUM (ANALYZE) identity_name_head_delta, identity_name_head_count"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def sample_rows(database_url: str, count: int, *, seed: int) -> dict[str, list[Any]]:
    """Random (birth name, birth date) pairs and INS matricules taken from the seeded data."""
    rng = random.Random(seed)
    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine) as session:
            max_identity = int(session.execute(select(func.max(IdentityRow.id))).scalar_one() or 0)
            max_ins = int(session.execute(select(func.max(InsRow.id))).scalar_one() or 0)
            identity_ids = {rng.randint(1, max_identity) for _ in range(count)} if max_identity else set()
            ins_ids = {rng.randint(1, max_ins) for _ in range(count)} if max_ins else set()
            names: list[tuple[str, date]] = [
                (r[0], r[1]) for r in session.execute(
                    select(IdentityRow.birth_name, IdentityRow.birth_date)
                    .where(col(IdentityRow.id).in_(sorted(identity_ids)))
                )
            ]
            matricules = list(session.execute(
                select(InsRow.matricule).where(col(InsRow.id).in_(sorted(ins_ids)))
            ).scalars())
    finally:
        engine.dispose()
    if not names or not matricules:
        raise SystemExit("the database holds no identity or no INS to sample queries from")
    return {"names": names, "matricules": matricules}


def database_facts(database_url: str) -> dict[str, Any]:
    """Engine, server version and settings, row counts: what the figures were measured on."""
    url = make_url(database_url)
    engine = make_engine(database_url, pool_size=1)
    facts: dict[str, Any] = {"engine": url.get_backend_name(), "schema_revision": current_revision(engine)}
    try:
        with Session(engine) as session:
            facts["identities"] = session.execute(select(func.count()).select_from(IdentityRow)).scalar_one()
            facts["ins_active"] = session.execute(
                select(func.count()).select_from(InsRow).where(col(InsRow.active))).scalar_one()
            facts["ins_history"] = session.execute(
                select(func.count()).select_from(InsRow).where(~col(InsRow.active))).scalar_one()
            if facts["engine"] == "postgresql":
                facts["server_version"] = session.execute(text("SHOW server_version")).scalar_one()
                for setting in ("shared_buffers", "work_mem", "effective_cache_size", "max_connections"):
                    facts[setting] = session.execute(text(f"SHOW {setting}")).scalar_one()
                facts["identity_table_size"] = session.execute(
                    text("SELECT pg_size_pretty(pg_total_relation_size('identity'))")).scalar_one()
            else:
                facts["sqlite_version"] = session.execute(text("SELECT sqlite_version()")).scalar_one()
    finally:
        engine.dispose()
    return facts


def postgres_backends(database: str) -> list[int]:
    """Process ids of the PostgreSQL backends serving this database (read from their titles)."""
    pids: list[int] = []
    marker = f" {database} "
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                title = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and marker in title:
            pids.append(int(entry))
    return pids
