"""What the schema fuzzing modules share: the roles, the role matrix of docs/security.md, the checks,
the example budget, the live server (uvicorn on SQLite, the INSi simulator behind it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.auth import issue_dev_token
from app.config import development_settings
from app.simulator.app import Behaviour
from app.simulator.server import SimulatorServer
from tests.cli_support import free_port
from tests.e2e.conftest import SECRET, LiveServer, running_server
from tests.security.matrix import parse_table

LONG = os.environ.get("IDENTITO_FUZZ_LONG") == "1"
ROLES = ("admission", "identitovigilance", "documents", "integration", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

# Who may do what, operation by operation: the role matrix of docs/security.md (the one table,
# checked cell by cell by tests/security/test_role_matrix.py; it follows the require_any of each
# service function). A 2xx for a role whose cell says "no" fails the run.
SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
MATRIX = parse_table(SECURITY_DOC.read_text(encoding="utf-8"))


def examples(default: int) -> int:
    """Examples per operation: ``default`` in CI, 300 with IDENTITO_FUZZ_LONG=1, or IDENTITO_FUZZ_EXAMPLES."""
    return int(os.environ.get("IDENTITO_FUZZ_EXAMPLES", 300 if LONG else default))


def allowed(prefix: str | None) -> dict[tuple[str, str], set[str]]:
    """The roles allowed per (METHOD, path) of the matrix: the rows under ``prefix`` (``/fhir``,
    ``/app``), or the REST API's (``None``: neither)."""
    return {key: {role for role in ROLES if row[role] == "yes"} for key, row in MATRIX.items()
            if (key[1].startswith(prefix) if prefix else not key[1].startswith(("/app", "/fhir")))}


def tokens() -> dict[str, str]:
    """A development token of each role (as tests/conftest.py ``auth`` mints them)."""
    auth = development_settings(auth={"secret": SECRET, "dev_tokens": True}).auth
    return {role: issue_dev_token(auth, f"fuzz-{role}", [role]) for role in ROLES}


@contextmanager
def live_server(tmp: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    """The whole application under uvicorn on SQLite, the INSi simulator (plain HTTP) behind it."""
    database = tmp / "identito.db"
    database.write_bytes(sqlite_template.read_bytes())
    simulator = SimulatorServer(behaviour=Behaviour(keep_requests=0), tls=None).start()
    try:
        with running_server(f"sqlite:///{database}", tmp, free_port(), IDENTITO_LANGUAGE="en",
                            IDENTITO_INSI__ENDPOINT=simulator.url) as live:
            yield live
    finally:
        simulator.stop()
