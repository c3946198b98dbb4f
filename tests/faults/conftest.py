"""Fixtures of the fault scenarios: PostgreSQL only (the production engine, and the one a proxy
can stand in front of), a service context on it, the run length (``--long``, registered in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import development_settings
from app.db.engine import make_engine
from app.main import build_context
from app.services.context import ServiceContext
from tests import privacy_guard
from tests.conftest import _truncate_pg


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session's migrated PostgreSQL database, emptied."""
    engine = make_engine(pg_database, pool_size=1)
    _truncate_pg(engine)
    engine.dispose()
    return pg_database


@pytest.fixture
def ctx(pg_url: str, tmp_path: Path) -> Iterator[ServiceContext]:
    """The service context of the test itself (subscribers, campaigns, the checker's reads)."""
    settings = development_settings(database_url=pg_url, var_dir=tmp_path / "var", language="en")
    context = build_context(settings)
    yield context
    privacy_guard.remember(context.engine)
    context.engine.dispose()


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    """True with ``--long``: more messages, more faults, more kills."""
    return bool(request.config.getoption("--long"))
