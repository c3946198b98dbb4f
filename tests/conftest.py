"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is taken from IDENTITO_TEST_POSTGRES_URL (default: the local server on 127.0.0.1:5432,
user postgres). When it is unreachable, PostgreSQL variants are skipped with a clear reason, unless
IDENTITO_TEST_REQUIRE_POSTGRES=1 (as in CI), which turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.api.auth import issue_dev_token
from app.config import Settings, development_settings
from app.db.engine import make_engine
from app.db.migrations import upgrade
from app.main import build_context, create_app
from app.services.context import Actor, ServiceContext
from tests import privacy_guard

# Property tests check behaviour, not speed: no per-example deadline (a loaded CI machine would
# turn a slow example into a false failure), and no "too slow" health check.
hypothesis_settings.register_profile(
    "identito",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
hypothesis_settings.load_profile("identito")

PG_ADMIN_URL = os.environ.get("IDENTITO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("IDENTITO_TEST_REQUIRE_POSTGRES") == "1"
_pg_state: dict[str, object] = {}


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL unreachable at {PG_ADMIN_URL.split('@')[-1]}: {str(exc).strip()[:120]}"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--long``: the fault scenarios of tests/faults run longer (more messages, faults, kills)."""
    parser.addoption("--long", action="store_true", default=False,
                     help="run the fault scenarios (tests/faults) longer than in CI")


def pytest_configure(config: pytest.Config) -> None:
    """The privacy guard collects every log line of the run (tests/privacy_guard.py)."""
    privacy_guard.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A trait or matricule of a test identity in a log line fails the run."""
    privacy_guard.finish(session)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say up front whether the PostgreSQL variants run."""
    reason = _pg_reachable()
    if reason is None:
        return [f"database tests: SQLite and PostgreSQL ({PG_ADMIN_URL.split('@')[-1]})"]
    return [f"database tests: SQLite only - {reason}"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated PostgreSQL database of this test session, dropped at the end."""
    reason = _pg_reachable()
    if reason is not None:
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"identito_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_pg(engine: Engine) -> None:
    with engine.begin() as connection:
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                 "AND tablename <> 'alembic_version'")
        ).scalars().all()
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each engine."""
    if request.param == "sqlite":
        path = tmp_path / "identito.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    engine = make_engine(url, pool_size=1)
    _truncate_pg(engine)
    engine.dispose()
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Development settings on the test database."""
    return development_settings(database_url=database_url, var_dir=tmp_path / "var", language="en")


@pytest.fixture
def ctx(settings: Settings) -> Iterator[ServiceContext]:
    """The service context on the test database."""
    context = build_context(settings)
    yield context
    privacy_guard.remember(context.engine)
    context.engine.dispose()


@pytest.fixture
def client(settings: Settings, ctx: ServiceContext) -> Iterator[TestClient]:
    """An HTTP client on the whole application."""
    with TestClient(create_app(settings, ctx=ctx)) as test_client:
        yield test_client


def auth(settings: Settings, *roles: str, sub: str = "agent-1") -> dict[str, str]:
    """Authorization header of a development token with these roles."""
    return {"Authorization": f"Bearer {issue_dev_token(settings.auth, sub, list(roles))}"}


def actor(*roles: str, sub: str = "agent-1") -> Actor:
    """An actor for service-level tests."""
    return Actor(sub, frozenset(roles))


DESK = ("admission",)
CELL = ("identitovigilance",)
