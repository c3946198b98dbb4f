"""The browser application while its database is lost (connections reset, as a PostgreSQL restart
does): the desk agent gets a page in French that says nothing was written and offers the same
request again (the form as typed, for a POST), with the application's layout and headers, never
the API's JSON or a bare "Internal Server Error"; once the database is back, the resent form works.
An unexpected error gets a French page with a reference that the log line carries too."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.config import development_settings
from app.db.errors import DatabaseUnavailable
from app.main import build_context, create_app
from app.services import queries, web_sessions
from app.services.context import ServiceContext
from tests.api.test_web_pages import _sign_in, _token
from tests.conftest import actor
from tests.faults.harness import through
from tests.faults.proxy import FaultProxy

UNAVAILABLE = "La base de données est momentanément indisponible : rien n'a été enregistré."
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def proxied(pg_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, FaultProxy]]:
    """The whole application on the test database, reached through a fault proxy."""
    target = urlsplit(pg_url)
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    settings = development_settings(database_url=through(pg_url, proxy.port), var_dir=tmp_path / "var",
                                    language="fr")
    web_ctx = build_context(settings)
    try:
        with TestClient(create_app(settings, ctx=web_ctx), raise_server_exceptions=False) as client:
            yield client, proxy
    finally:
        web_ctx.engine.dispose()
        proxy.stop()


def test_a_search_while_the_database_is_lost_says_so_in_french(
        proxied: tuple[TestClient, FaultProxy]) -> None:
    client, proxy = proxied
    _sign_in(client, "admission")
    form = {"csrf_token": _token(client, "/app/"), "name": "MOREAU"}
    assert client.post("/app/search", data=form).status_code == 200
    proxy.set("reset")

    page = client.post("/app/search", data=form)
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert page.headers["Retry-After"] == "5"
    assert page.headers["Cache-Control"] == "no-store" and "default-src 'none'" in page.headers[
        "Content-Security-Policy"]
    text = unescape(page.text)
    assert UNAVAILABLE in text and "<title>Base de données indisponible – Identito</title>" in text
    assert dict(_HIDDEN.findall(page.text)) == form  # "Renvoyer le formulaire" sends the same search
    assert 'action="/app/search"' in page.text

    fragment = client.post("/app/search", data=form, headers={"HX-Request": "true"})
    assert fragment.status_code == 503
    assert unescape(fragment.text).strip().startswith(f'<p class="error" role="alert">{UNAVAILABLE}')
    assert "<html" not in fragment.text  # app.js puts the message in the page's alert, the form stays

    identity_page = client.get("/app/identities/1?x=1")
    assert identity_page.status_code == 503 and UNAVAILABLE in unescape(identity_page.text)
    assert 'href="/app/identities/1?x=1" id="retry"' in identity_page.text

    proxy.heal()
    assert client.post("/app/search", data=form).status_code == 200


def test_a_create_form_sent_while_the_database_is_lost_is_kept_and_can_be_sent_again(
        proxied: tuple[TestClient, FaultProxy], ctx: ServiceContext) -> None:
    client, proxy = proxied
    _sign_in(client, "admission")
    form = {"csrf_token": _token(client, "/app/identities/new"), "birth_name": "Lévêque-Aubry",
            "first_names": "Zoé Anaïs", "birth_date": "02/03/1987", "sex": "F", "used_name": "",
            "birth_place_code": "", "used_first_name": ""}
    proxy.set("reset")
    page = client.post("/app/identities", data=form, follow_redirects=False)
    assert page.status_code == 503 and UNAVAILABLE in unescape(page.text)
    resend = {name: unescape(value) for name, value in _HIDDEN.findall(page.text)}
    assert resend == form  # accents and the hyphen as typed: nothing the agent typed is lost
    assert queries.search_identities(ctx, actor("admission"), birth_name="LEVEQUE-AUBRY", limit=5) == []

    proxy.heal()
    sent = client.post("/app/identities", data=resend, follow_redirects=False)
    assert sent.status_code == 303, sent.text[:300]
    created = queries.search_identities(ctx, actor("admission"), birth_name="LEVEQUE-AUBRY", limit=5)
    assert [(i.traits.birth_name, i.traits.first_names) for i in created] == [("LEVEQUE-AUBRY", "ZOE ANAIS")]


def test_an_unexpected_error_gets_a_french_page_with_a_reference_in_the_log(
        proxied: tuple[TestClient, FaultProxy], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    client, _ = proxied
    _sign_in(client, "admission")
    form = {"csrf_token": _token(client, "/app/"), "name": "MOREAU"}

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(queries, "search_identities", broken)
    with caplog.at_level(logging.ERROR, logger="identito.web"):
        page = client.post("/app/search", data=form)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    match = re.search(r"Erreur inattendue \(référence ([0-9a-f]{8})\)", unescape(page.text))
    assert match is not None, page.text[:500]
    assert any(match.group(1) in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_session_that_cannot_be_stored_leaves_the_handlers_answer(
        proxied: tuple[TestClient, FaultProxy], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The database lost between a handler's commit and the session's write: the handler's answer
    stands (no 503 page claiming nothing was written); only the session's change is lost."""
    client, _ = proxied
    token = _token(client)

    def lost(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("OperationalError")

    monkeypatch.setattr(web_sessions, "put", lost)
    with caplog.at_level(logging.WARNING, logger="identito.web"):
        signed = client.post("/app/signin/dev", data={"csrf_token": token, "user": "agent-9",
                                                      "roles": ["admission"]}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/app/"
    assert any("web session not stored after POST /app/signin/dev" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    again = client.get("/app/", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/app/signin"  # sign in again
