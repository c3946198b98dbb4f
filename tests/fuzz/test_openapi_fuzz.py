"""Schema-based fuzzing of the whole OpenAPI document (schemathesis) against a real server.

The application runs under uvicorn (the production entry point, ``identito serve``) on a free port,
on SQLite, with the INSi simulator behind it. Every operation of ``/openapi.json`` gets cases
generated from its schemas (fixed seed); each case is sent once with a token of each role. Checks:

- no server error (5xx), whatever the input;
- the status code, the content type, the headers and the body are those the document declares
  (errors included: problem documents, app/api/problems.py);
- no 2xx for a role the service refuses (``ALLOWED`` below: the role matrix of docs/security.md).

Bounded for CI (6 examples per operation, 45 to 75 s on 2 cores); ``IDENTITO_FUZZ_LONG=1``
runs 300 per operation, ``IDENTITO_FUZZ_EXAMPLES=n`` any number. Fixed seed (derandomized): a
failure found in CI is found again by the same command. The FHIR interface (/fhir) has its own
document, fuzzed by test_fhir_fuzz.py; the browser pages (/app) by test_web_fuzz.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from app.config import development_settings
from app.main import create_app
from app.services import identities, merges
from app.services.context import Actor
from app.services.identities import DocumentInput, TraitsInput
from tests.e2e.conftest import SECRET, LiveServer
from tests.fuzz.support import CHECKS, ROLES, allowed, examples, live_server

pytestmark = pytest.mark.fuzz

EXAMPLES = examples(6)  # per operation
ALLOWED = allowed(None)  # the REST rows of the role matrix (docs/security.md)
DESK_ACTOR = Actor("fuzz-desk", frozenset({"admission"}))
CELL_ACTOR = Actor("fuzz-cell", frozenset({"identitovigilance"}))


def _seed(server: LiveServer) -> list[int]:
    """A few identities the generated ids can hit: a validated one, a merged pair."""
    ctx = server.ctx
    one = identities.create_identity(ctx, DESK_ACTOR, TraitsInput(
        birth_name="FUZZARD", first_names="ALINE", birth_date="1970-03-02", sex="F"))
    identities.record_document(ctx, DESK_ACTOR, one.id, DocumentInput("CN", date(2031, 1, 1)),
                               expected_version=one.version)
    traits = TraitsInput(birth_name="FUZZMERGE", first_names="PAUL", birth_date="1950-01-01", sex="M")
    survivor = identities.create_identity(ctx, DESK_ACTOR, traits)
    absorbed = identities.create_identity(ctx, DESK_ACTOR, traits, confirm_new=True)
    merges.merge_identities(ctx, CELL_ACTOR, survivor.id, absorbed.id, reason="Doublon de test",
                            survivor_version=survivor.version, absorbed_version=absorbed.version)
    return [one.id, survivor.id, absorbed.id]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    """The whole application under uvicorn on SQLite, the INSi simulator (plain HTTP) behind it."""
    with live_server(tmp_path_factory.mktemp("fuzz"), sqlite_template) as live:
        KNOWN_IDS[:] = _seed(live)
        yield live


def _document() -> dict[str, Any]:
    """The application's OpenAPI document, as the server publishes it (checked in
    test_served_document_is_the_fuzzed_one): the lazy, fixture-based schema of schemathesis does not
    run under pytest 9, so the operations are known at collection time."""
    settings = development_settings(database_url="sqlite://", auth={"secret": SECRET, "dev_tokens": True})
    return create_app(settings, check_schema_on_start=False).openapi()


DOCUMENT = _document()
KNOWN_IDS: list[int] = []  # seeded identities (fuzz_server)
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the time, every id of the path names a seeded identity (else nearly all cases are 404)."""
    ids = [name for name in path_parameters or {} if name.endswith("_id")]
    if not path_parameters or not ids or not KNOWN_IDS:
        return st.just(path_parameters)
    known = {**path_parameters, **dict.fromkeys(ids, None)}
    return st.one_of(st.just(path_parameters), st.fixed_dictionaries(
        {k: st.sampled_from(KNOWN_IDS) if v is None else st.just(v) for k, v in known.items()}))


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_with_every_role(case: Any, fuzz_server: LiveServer, tokens: dict[str, str],
                                         session: requests.Session) -> None:
    key = (case.operation.method.upper(), case.operation.path)
    assert key in ALLOWED, f"{key} is not in the role matrix of docs/security.md: add it (who may call it?)"
    for role in ROLES:
        response = case.call_and_validate(base_url=fuzz_server.url, session=session, checks=CHECKS,
                                          headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30)
        if 200 <= response.status_code < 300:
            assert role in ALLOWED[key], (
                f"{key} answered {response.status_code} to role {role!r}, which may not call it")


def test_served_document_is_the_fuzzed_one(fuzz_server: LiveServer) -> None:
    """The server publishes the document fuzzed here, and the role matrix names each of its operations."""
    served = requests.get(f"{fuzz_server.url}/openapi.json", timeout=10).json()
    assert served == DOCUMENT
    operations = {(m.upper(), p) for p, ops in served["paths"].items() for m in ops}
    assert operations == set(ALLOWED)

