"""Security headers on every response: each route of the OpenAPI document, FHIR, web, 401, 404, 500."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.security_headers import API_CSP, inline_script_hashes
from app.config import Settings
from tests.conftest import auth
from tests.security.support import client_of, security_settings

EVERY_ROLE = ("admission", "identitovigilance", "documents", "integration", "admin")
BODY = {"birth_name": "DUPONT", "first_names": "Jeanne", "birth_date": "1980-02-03", "sex": "F",
        "birth_place_code": "75056"}


def assert_secure(response: httpx.Response, *, csp: str | None = API_CSP, https: bool = False) -> None:
    """The headers every response carries (csp None: the web app's own policy)."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "no-referrer", where
    assert headers.get("X-Frame-Options") == "DENY", where
    policy = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy, where
    if csp is not None:
        assert policy == csp, where
    assert headers.get("Cache-Control") == "no-store", where
    assert ("Strict-Transport-Security" in headers) is https, where


def test_every_openapi_route_and_the_errors(client: TestClient, settings: Settings) -> None:
    """All roles, every operation of /openapi.json with placeholder values: whatever the status, headers."""
    headers = auth(settings, *EVERY_ROLE)
    created = client.post("/identities", json=BODY, headers=headers)
    assert created.status_code == 201
    ident = created.json()["id"]
    document = client.get("/openapi.json")
    assert_secure(document)
    seen = 0
    for path, operations in document.json()["paths"].items():
        url = re.sub(r"\{identity_id\}|\{survivor_id\}", str(ident), path)
        url = re.sub(r"\{[^}]+\}", "1", url)
        for method in operations:
            response = client.request(method.upper(), url, headers=headers)
            assert response.status_code != 500, f"{method} {url}"
            assert_secure(response)
            seen += 1
    assert seen > 60
    read = client.get(f"/identities/{ident}", headers=headers)  # patient data: never cached
    assert read.status_code == 200 and read.json()["birth_name"] == "DUPONT"
    assert_secure(read)
    not_found = client.get("/no/such/page")
    assert not_found.status_code == 404
    assert_secure(not_found)
    unauthenticated = client.get("/identities?birth_name=d")
    assert unauthenticated.status_code == 401
    assert_secure(unauthenticated)
    wrong_method = client.delete("/health")
    assert wrong_method.status_code == 405
    assert_secure(wrong_method)


def test_fhir_and_web_responses(client: TestClient, settings: Settings) -> None:
    headers = auth(settings, "admission")
    for url, status in (
        ("/fhir/metadata", 200), ("/fhir/Patient?family=dupont", 200), ("/fhir/Patient/99", 404),
                        ("/fhir/Nothing", 404)):
        response = client.get(url, headers=headers)
        assert response.status_code == status, url
        assert_secure(response)
    assert_secure(client.get("/fhir/Patient?family=dupont"))  # 401
    for url in ("/app/signin", "/app/no-such-page", "/app/"):
        response = client.get(url, follow_redirects=False)
        assert_secure(response, csp=None)  # the web app's own policy (scripts and styles from itself)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    static = client.get("/app/static/htmx.min.js")
    assert static.status_code == 200 and static.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in static.headers.get("Cache-Control", "")  # assets may be cached


def test_docs_keeps_working_under_its_policy(client: TestClient) -> None:
    """Swagger UI: each script and stylesheet it loads, and its inline start script, are allowed."""
    page = client.get("/docs")
    assert page.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    styles = re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', page.text)
    assert scripts and styles
    for url in scripts:
        assert any(url.startswith(source) for source in policy["script-src"].split()), url
    for url in styles:
        assert any(url.startswith(source) for source in policy["style-src"].split()), url
    hashes = inline_script_hashes(page.content)
    assert hashes and all(h in policy["script-src"].split() for h in hashes)
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "'self'" in policy["connect-src"]  # it fetches /openapi.json and sends "Try it out"
    assert client.get("/openapi.json").status_code == 200
    redoc = client.get("/redoc")
    assert redoc.status_code == 200 and "https://cdn.jsdelivr.net" in redoc.headers["Content-Security-Policy"]


@pytest.mark.parametrize("public_url", ["https://identito.chu.example", "http://127.0.0.1:8000"])
def test_hsts_only_behind_https(sqlite_template: Path, tmp_path: Path, public_url: str) -> None:
    settings = security_settings(sqlite_template, tmp_path)
    settings = settings.model_copy(update={"public_url": public_url})
    https = public_url.startswith("https")
    with client_of(settings) as client:
        assert_secure(client.get("/health"), https=https)
        assert_secure(client.get("/nothing"), https=https)
        assert_secure(client.get("/app/signin"), csp=None, https=https)
        if https:
            assert "max-age=31536000" in client.get("/health").headers["Strict-Transport-Security"]


def test_an_unexpected_error_carries_them_too(sqlite_template: Path, tmp_path: Path) -> None:
    from app.main import create_app

    app = create_app(security_settings(sqlite_template, tmp_path))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    app.state.ctx.engine.dispose()
    assert response.status_code == 500 and response.json()["title"] == "Erreur interne"
    assert_secure(response)
