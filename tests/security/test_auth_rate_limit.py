"""Failed authentications: limited per client address (429, Retry-After, French), counted in /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from app.main import create_app
from tests.fhir.live import serve
from tests.security.support import bearer, claims, client_of, hs_token, security_settings

SECRET = "dev-only-security-tests-secret"
SEARCH = "/identities?birth_name=martin"


def _metric(text: str, name: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def test_too_many_failures_from_one_address_get_429_over_a_real_socket(sqlite_template: Path,
                                                                        tmp_path: Path) -> None:
    settings = security_settings(sqlite_template, tmp_path, failure_limit=3, failure_window_seconds=3)
    app = create_app(settings)
    good = bearer(hs_token(claims(), SECRET))
    expired = bearer(hs_token(claims(exp=int(time.time()) - 5), SECRET))
    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get(SEARCH).status_code == 401  # no token at all: counted, not limited
        assert http.get(SEARCH).status_code == 401
        first_failure = time.monotonic()
        for forged in (expired, bearer(hs_token(claims(), "guess-1")), bearer("x.y.z")):
            assert http.get(SEARCH, headers=forged).status_code == 401
        refused = http.get(SEARCH, headers=good)  # even a good token waits: no oracle for guessing
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 3
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert body["title"] == "Trop de requêtes" and body["type"].endswith(":too-many-auth-failures")
        assert body["detail"].startswith("Trop d'authentifications refusées depuis cette adresse")
        fhir = http.get("/fhir/Patient?family=martin", headers=good)  # same verifier, same limit
        assert fhir.status_code == 429 and fhir.json()["issue"][0]["code"] == "throttled"
        assert "Retry-After" in fhir.headers
        # Pages that need no token are not limited.
        assert http.get("/health").status_code == 200
        metrics = http.get("/metrics").text
        assert _metric(metrics, 'identito_auth_failures_total{reason="missing"}') == 2
        assert _metric(metrics, 'identito_auth_failures_total{reason="expired"}') == 1
        assert _metric(metrics, 'identito_auth_failures_total{reason="bad_signature"}') == 1
        assert _metric(metrics, 'identito_auth_failures_total{reason="malformed"}') == 1
        assert _metric(metrics, "identito_auth_rate_limited_total") == 2
        time.sleep(max(0.0, first_failure + 3.1 - time.monotonic()))
        assert http.get(SEARCH, headers=good).status_code == 200  # the window has moved on
    app.state.ctx.engine.dispose()


def test_the_limit_is_per_address_and_can_be_turned_off(sqlite_template: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings = security_settings(sqlite_template, tmp_path, failure_limit=2)
    good = bearer(hs_token(claims(), SECRET))
    with client_of(settings) as client:
        for _ in range(2):
            assert client.get(SEARCH, headers=bearer("bad")).status_code == 401
        assert client.get(SEARCH, headers=good).status_code == 429
        other = TestClient(client.app, client=("10.1.2.3", 40000))
        assert other.get(SEARCH, headers=good).status_code == 200
    unlimited = security_settings(sqlite_template, tmp_path / "off", failure_limit=0)
    with client_of(unlimited) as client:
        for _ in range(30):
            assert client.get(SEARCH, headers=bearer("bad")).status_code == 401
        assert client.get(SEARCH, headers=good).status_code == 200


def test_default_limit_is_sensible(sqlite_template: Path, tmp_path: Path) -> None:
    """By default 20 refused tokens a minute per address: a mistyped token never trips it, a guesser does."""
    settings = security_settings(sqlite_template, tmp_path)
    assert (settings.auth.failure_limit, settings.auth.failure_window_seconds) == (20, 60.0)
    with client_of(settings) as client:
        statuses = [client.get(SEARCH, headers=bearer(f"guess-{i}")).status_code for i in range(21)]
    assert statuses == [401] * 20 + [429]
