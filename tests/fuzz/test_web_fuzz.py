"""Schema-based fuzzing of the browser pages (/app) against a real server: no 5xx on hostile input.

The pages publish no OpenAPI document (an HTML application), but FastAPI describes their routes:
the path and query parameters and the form fields of each one. That description (the web
application's ``openapi()``, not served) drives schemathesis here; the corrections form, which
reads its trait fields from the raw form, gets them added. Every case is sent once in a signed-in
session of each role (development sign-in, as a browser does it), with that session's CSRF token
in the form; redirects are not followed. Checks:

- no server error (5xx), whatever the input;
- no 2xx for a role the role matrix of docs/security.md refuses.

Answers are HTML pages, redirects and htmx fragments, which no schema describes: their shape is
not checked (tests/api/test_web_pages.py and tests/e2e do). Not fuzzed: ``POST /app/signin/dev``
and ``POST /app/signout`` (they would replace the fuzzing sessions themselves) and
``GET /app/search`` (no input: a redirect). Bounded for CI (4 examples per operation, about 25 s);
``IDENTITO_FUZZ_LONG=1`` runs 300 per operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from starlette.routing import Mount

from app.config import development_settings
from app.domain.worklist import WorklistKind
from app.main import create_app
from app.web.corrections import SHOWN, TRAITS
from tests.e2e.conftest import SECRET, LiveServer
from tests.fhir import support as population
from tests.fuzz.support import ROLES, allowed, examples, live_server

pytestmark = pytest.mark.fuzz

EXAMPLES = examples(4)  # per operation
ALLOWED = allowed("/app")  # the /app rows of the role matrix (docs/security.md)
NOT_FUZZED = {("POST", "/app/signin/dev"), ("POST", "/app/signout"), ("GET", "/app/search")}
ACTIONS = ["pause", "resume", "retry", "skip", "cancel"]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _document() -> dict[str, Any]:
    """FastAPI's description of the web routes, the corrections form's raw fields added."""
    settings = development_settings(database_url="sqlite://", auth={"secret": SECRET, "dev_tokens": True})
    app = create_app(settings, check_schema_on_start=False)
    web = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "/app")
    document: dict[str, Any] = web.openapi()
    for path, method in ((p.removeprefix("/app"), m.lower()) for m, p in NOT_FUZZED):
        document["paths"].get(path, {}).pop(method, None)
    document["paths"] = {path: ops for path, ops in document["paths"].items() if ops}
    form = document["paths"]["/identities/{identity_id}/corrections/traits"]["post"]["requestBody"]
    reference = form["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"]
    traits = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    extra = {name: {"type": "string", "maxLength": 200} for name in TRAITS}
    traits["properties"].update(extra | {f"read_{name}": {"type": "string"} for name in SHOWN})
    return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


class Known:
    """Identity ids of the seeded population (filled by the fixture before any case is generated)."""

    ids: list[int] = []


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    """The whole application under uvicorn on SQLite, the FHIR tests' population in its database."""
    with live_server(tmp_path_factory.mktemp("fuzz-web"), sqlite_template) as live:
        Known.ids = sorted(population.seed(live.ctx).ids.values())
        yield live


def _csrf(session: requests.Session, url: str) -> str:
    match = _CSRF.search(session.get(url, timeout=10).text)
    assert match is not None, url
    return match.group(1)


@pytest.fixture(scope="module")
def browsers(fuzz_server: LiveServer) -> Iterator[dict[str, tuple[requests.Session, str]]]:
    """A browser session per role, signed in with the development form: (session, CSRF token)."""
    signed_in: dict[str, tuple[requests.Session, str]] = {}
    base = f"{fuzz_server.url}/app"
    for role in ROLES:
        browser = requests.Session()
        response = browser.post(f"{base}/signin/dev", allow_redirects=False, timeout=10, data={
            "csrf_token": _csrf(browser, f"{base}/signin"), "user": f"fuzz-{role}", "roles": [role]})
        assert response.status_code == 303, response.text
        signed_in[role] = (browser, _csrf(browser, f"{base}/"))
    yield signed_in
    for browser, _ in signed_in.values():
        browser.close()


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the time, the ids name seeded identities, the worklist kind and the action exist."""
    if not path_parameters or not Known.ids:
        return st.just(path_parameters)
    known: dict[str, st.SearchStrategy[Any]] = {}
    for name, value in path_parameters.items():
        if name == "identity_id":
            known[name] = st.sampled_from(Known.ids)
        elif name == "kind":
            known[name] = st.sampled_from([k.value for k in WorklistKind])
        elif name == "action" and isinstance(value, str):
            known[name] = st.sampled_from(ACTIONS)
        else:
            known[name] = st.just(value)
    return st.one_of(st.just(path_parameters), st.fixed_dictionaries(known))


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_page_and_form_with_every_role(case: Any, fuzz_server: LiveServer,
                                             browsers: dict[str, tuple[requests.Session, str]]) -> None:
    key = (case.operation.method.upper(), "/app" + case.operation.path)
    assert key in ALLOWED, f"{key} is not in the role matrix of docs/security.md: add it (who may call it?)"
    generated = case.body
    for role in ROLES:
        browser, csrf = browsers[role]
        if isinstance(generated, dict):  # a form: this session's token, else every POST is refused
            case.body = {**generated, "csrf_token": csrf}
        response = case.call_and_validate(base_url=f"{fuzz_server.url}/app", session=browser,
                                          checks=[not_a_server_error], allow_redirects=False, timeout=30)
        if 200 <= response.status_code < 300:
            assert role in ALLOWED[key], (
                f"{key} answered {response.status_code} to role {role!r}, which may not call it")


def test_every_page_with_input_is_fuzzed() -> None:
    """Every /app route of the role matrix is fuzzed here, but the ones written down as not fuzzed."""
    operations = {(m.upper(), "/app" + p) for p, ops in DOCUMENT["paths"].items() for m in ops}
    assert operations | NOT_FUZZED == set(ALLOWED)
