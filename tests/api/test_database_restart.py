"""A database restart under traffic (PostgreSQL): one clear 503, nothing half-written, then service
resumes."""

from __future__ import annotations

import psycopg
import pytest

from tests.api.test_identities_api import DUPONT
from tests.conftest import auth

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a server to restart


def _kill_application_backends(database_url: str) -> int:
    """What a PostgreSQL restart does to the pooled connections: close them under the application."""
    with psycopg.connect(
        database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall())


def test_broken_connections_give_one_503_then_the_pool_recovers(client, settings, database_url):
    headers = auth(settings, "admission")
    assert client.post("/identities", json=DUPONT, headers=headers).status_code == 201
    assert _kill_application_backends(database_url) >= 1

    # The pooled connection was busy a moment ago, so it is not pinged: this request meets the
    # broken connection, and the caller gets a clear, retryable answer.
    broken = client.post("/identities", json={**DUPONT, "birth_name": "Martin"}, headers=headers)
    assert broken.status_code == 503
    assert broken.json()["type"].endswith("database-unavailable")
    assert broken.headers["Retry-After"] == "1"

    retried = client.post("/identities", json={**DUPONT, "birth_name": "Martin"}, headers=headers)
    assert retried.status_code == 201
    found = client.get("/identities", params={"birth_name": "MARTIN", "exact": "true"},
                       headers=headers).json()
    items = found["items"] if isinstance(found, dict) else found
    assert len(items) == 1  # the failed attempt left nothing behind
