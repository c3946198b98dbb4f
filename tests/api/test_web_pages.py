"""The browser pages over HTTP (both engines): English through the language setting, what each role
sees, the sign-in methods a deployment offers, htmx requests after a session ends, cookie flags."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services import identities
from app.services.context import ServiceContext
from app.web.app import cookie_secure
from tests.conftest import actor

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _token(client: TestClient, path: str = "/app/signin") -> str:
    match = _TOKEN.search(client.get(path).text)
    assert match is not None
    return match.group(1)


def _sign_in(client: TestClient, *roles: str) -> None:
    response = client.post("/app/signin/dev", data={"csrf_token": _token(client), "user": "agent-9",
                                                    "roles": list(roles)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/app/"


@pytest.fixture
def identity_id(ctx: ServiceContext) -> int:
    """A provisional identity."""
    traits = identities.TraitsInput(birth_name="MOREAU", first_names="LUC", birth_date="1975-03-02", sex="M")
    return identities.create_identity(ctx, actor("admission"), traits).id


def test_pages_speak_english_when_the_language_is_english(client: TestClient, identity_id: int) -> None:
    # The test settings are in English (tests/conftest.py).
    _sign_in(client, "admission")
    page = client.get("/app/")
    assert "<title>Find an identity – Identito</title>" in page.text and 'lang="en"' in page.text
    rows = client.post("/app/search", data={"csrf_token": _token(client, "/app/"), "name": "mor"},
                       headers={"HX-Request": "true"})
    assert "PROV</span> Provisional identity" in rows.text and "<html" not in rows.text  # a fragment
    bad = client.post("/app/search", data={"csrf_token": _token(client, "/app/"), "birth_date": "1975-13"},
                      headers={"HX-Request": "true"})
    assert 'role="alert"' in bad.text and "birth date" in bad.text.lower()


def test_the_documents_role_sees_the_identity_but_not_its_history(
        client: TestClient, identity_id: int) -> None:
    _sign_in(client, "documents")
    page = client.get(f"/app/identities/{identity_id}")
    assert page.status_code == 200 and "MOREAU" in page.text
    assert page.text.count("Your role cannot see the history.") == 2  # documents and history
    assert "Created" not in page.text


def test_a_role_the_search_refuses_gets_the_services_message(client: TestClient) -> None:
    _sign_in(client, "admin")  # admin reads history but does not search (app.services.queries)
    refused = client.post("/app/search", data={"csrf_token": _token(client, "/app/"), "name": "mor"})
    assert refused.status_code == 403 and 'role="alert"' in refused.text


def test_a_refused_role_gets_no_page_even_before_any_lookup(client: TestClient) -> None:
    """Found by the schema fuzzing (tests/fuzz/test_web_fuzz.py): an empty search form, a worklist
    with an invalid filter answered 200 to roles the role matrix refuses (no data, but the page)."""
    _sign_in(client, "admin")
    empty = client.post("/app/search", data={"csrf_token": _token(client, "/app/"), "name": ""})
    assert empty.status_code == 403 and 'role="alert"' in empty.text
    client.cookies.clear()
    _sign_in(client, "admission")
    worklist = client.get("/app/cell/worklists/insi_not_found", params={"to": "000000000"})
    assert worklist.status_code == 403 and 'role="alert"' in worklist.text


def test_ids_beyond_64_bits_are_a_bad_address_not_a_server_error(client: TestClient) -> None:
    """Found by the schema fuzzing: SQLite's driver refuses such an integer with an OverflowError."""
    _sign_in(client, "identitovigilance")
    huge = "9" * 30
    page = client.get(f"/app/identities/{huge}")
    assert page.status_code == 404
    merge = client.post(f"/app/cell/pairs/{huge}/merge", data={
        "csrf_token": _token(client, "/app/"), "survivor": huge, "low_version": "1", "high_version": "1",
        "reason": "doublon"})
    assert merge.status_code in (404, 422) and "<html" in merge.text


def test_an_ended_session_sends_htmx_to_the_sign_in_page(client: TestClient) -> None:
    response = client.post("/app/search", data={"name": "mor"}, headers={"HX-Request": "true"},
                           follow_redirects=False)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/app/signin"
    assert client.get("/app/", follow_redirects=False).headers["location"] == "/app/signin"


@pytest.fixture
def no_dev_client(settings: Settings, ctx: ServiceContext) -> Iterator[TestClient]:
    """A deployment where development tokens are not allowed (and no OpenID Connect provider)."""
    auth = settings.auth.model_copy(update={"dev_tokens": False})
    with TestClient(create_app(settings.model_copy(update={"auth": auth}), ctx=ctx)) as test_client:
        yield test_client


def test_no_development_sign_in_where_dev_tokens_are_not_allowed(no_dev_client: TestClient) -> None:
    page = no_dev_client.get("/app/signin")
    assert "Development sign-in" not in page.text and "No sign-in method is configured" in page.text
    assert "csrf_token" not in page.text  # no form at all on this page
    refused = no_dev_client.post("/app/signin/dev", data={"user": "intruder", "roles": ["admin"]})
    assert refused.status_code in (403, 404)
    assert no_dev_client.get("/app/", follow_redirects=False).headers["location"] == "/app/signin"


def test_the_cookie_is_secure_except_for_plain_http_development(settings: Settings) -> None:
    assert cookie_secure(settings) is False  # development on http://127.0.0.1
    assert cookie_secure(settings.model_copy(update={"public_url": "https://identito.example"})) is True
    assert cookie_secure(settings.model_copy(update={"environment": "production"})) is True
