"""Bearer-token refusals: each is a 401 with a French problem document and WWW-Authenticate."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from app.config import AuthSettings
from tests.security.support import (
    RsaKey,
    bearer,
    claims,
    client_of,
    hs_token,
    jwks_server,
    security_settings,
    unsigned_token,
)

SECRET = "dev-only-security-tests-secret"
SEARCH = "/identities?birth_name=martin"


def assert_refused(response: httpx.Response, reason_fr: str) -> None:
    """401, problem+json in French naming the reason, a Bearer challenge."""
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:identito:problem:unauthenticated"
    assert body["title"] == "Authentification requise"
    assert body["detail"].startswith("Authentification requise : envoyez un jeton porteur valide")
    assert reason_fr in body["detail"], body["detail"]


def test_a_valid_token_passes(sqlite_template: Path, tmp_path: Path) -> None:
    with client_of(security_settings(sqlite_template, tmp_path)) as client:
        assert client.get(SEARCH, headers=bearer(hs_token(claims(), SECRET))).status_code == 200


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("alg none", lambda: unsigned_token(claims()), "algorithme non autorisé"),
    ("alg none with a signature", lambda: unsigned_token(claims()) + hs_token(claims(), SECRET).split(".")[2],
     "algorithme non autorisé"),
    ("alg None (case)", lambda: unsigned_token(claims(), alg="None"), "algorithme non autorisé"),
    ("other HMAC algorithm", lambda: hs_token(claims(), SECRET, alg="HS512"), "algorithme non autorisé"),
    ("bad signature", lambda: hs_token(claims(), "another-secret"), "signature invalide"),
    ("expired", lambda: hs_token(claims(exp=int(time.time()) - 5), SECRET), "jeton expiré"),
    ("no exp", lambda: hs_token(claims(exp=None), SECRET), "jeton invalide"),
    ("nbf beyond the leeway", lambda: hs_token(claims(nbf=int(time.time()) + 120), SECRET),
     "pas encore valide"),
    ("iat beyond the leeway", lambda: hs_token(claims(iat=int(time.time()) + 120), SECRET),
     "pas encore valide"),
    ("wrong issuer", lambda: hs_token(claims(iss="https://evil.example"), SECRET), "émetteur incorrect"),
    ("wrong audience", lambda: hs_token(claims(aud="another-service"), SECRET), "audience incorrecte"),
    ("garbage", lambda: "not.a.token", "jeton"),
])
def test_refusals(sqlite_template: Path, tmp_path: Path, name: str, make, reason: str) -> None:
    with client_of(security_settings(sqlite_template, tmp_path)) as client:
        assert_refused(client.get(SEARCH, headers=bearer(make())), reason)


def test_clock_skew_within_the_leeway_is_tolerated(sqlite_template: Path, tmp_path: Path) -> None:
    settings = security_settings(sqlite_template, tmp_path, leeway_seconds=30)
    future = int(time.time()) + 10
    with client_of(settings) as client:
        token = hs_token(claims(nbf=future, iat=future), SECRET)
        assert client.get(SEARCH, headers=bearer(token)).status_code == 200


def test_a_token_replayed_after_its_exp_is_refused(sqlite_template: Path, tmp_path: Path) -> None:
    """exp is strict (no leeway): the same token, accepted before, is refused one second after."""
    settings = security_settings(sqlite_template, tmp_path, leeway_seconds=30)
    exp = int(time.time()) + 2
    token = hs_token(claims(exp=exp), SECRET)
    with client_of(settings) as client:
        assert client.get(SEARCH, headers=bearer(token)).status_code == 200
        time.sleep(max(0.0, exp + 1.05 - time.time()))
        assert_refused(client.get(SEARCH, headers=bearer(token)), "jeton expiré")
        fhir = client.get("/fhir/Patient?family=martin", headers=bearer(token))
        assert fhir.status_code == 401 and "jeton expiré" in fhir.text


def test_hs_rs_confusion_is_refused(sqlite_template: Path, tmp_path: Path) -> None:
    """An HS256 token whose HMAC key is the service's RSA public key: refused, for the PEM and the JWKS."""
    key = RsaKey("k1")
    forged = hs_token(claims(roles=["admin", "identitovigilance"]), key.public_pem, kid="k1")
    settings = security_settings(
        sqlite_template, tmp_path, algorithms=["RS256"], public_key_pem=key.public_pem)
    with client_of(settings) as client:
        assert client.get(SEARCH, headers=bearer(key.sign(claims()))).status_code == 200
        assert_refused(client.get(SEARCH, headers=bearer(forged)), "algorithme non autorisé")
    with jwks_server(key) as idp:
        settings = security_settings(
            sqlite_template, tmp_path / "jwks", algorithms=["RS256"], jwks_url=idp.url)
        with client_of(settings) as client:
            assert client.get(SEARCH, headers=bearer(key.sign(claims()))).status_code == 200
            assert_refused(client.get(SEARCH, headers=bearer(forged)), "algorithme non autorisé")
    # A configuration that would accept both families is refused at start.
    for mixed in ({"algorithms": ["RS256", "HS256"], "public_key_pem": key.public_pem},
                  {"algorithms": ["HS256"], "jwks_url": "https://sso.example/certs"},
                  {"algorithms": ["HS256", "RS256"], "secret": "s"}):
        with pytest.raises(ValueError, match="cannot be mixed"):
            AuthSettings(**mixed)
    assert AuthSettings(jwks_url="https://sso.example/certs").algorithms == ["RS256"]


def test_unknown_kid_is_refused_and_fetches_are_bounded(sqlite_template: Path, tmp_path: Path) -> None:
    key, stranger = RsaKey("k1"), RsaKey("k-attacker")
    with jwks_server(key) as idp:
        settings = security_settings(sqlite_template, tmp_path, algorithms=["RS256"], jwks_url=idp.url,
                                     jwks_min_refresh_seconds=60)
        with client_of(settings) as client:
            assert client.get(SEARCH, headers=bearer(key.sign(claims()))).status_code == 200
            for i in range(5):  # each unknown kid could make the service fetch: once a minute at most
                token = stranger.sign(claims(), kid=f"k-{i}")
                assert_refused(client.get(SEARCH, headers=bearer(token)), "clé de signature inconnue")
            # Same kid as a real key, signed by another key: the signature check refuses it.
            assert_refused(client.get(SEARCH, headers=bearer(stranger.sign(claims(), kid="k1"))),
                           "signature invalide")
        assert idp.fetches == 1


def test_jwks_rotation(sqlite_template: Path, tmp_path: Path) -> None:
    """The provider adds k2 then removes k1: k2 is taken at once (unknown kid), k1 is refused once the
    cache (jwks_cache_seconds) has expired, and accepted until then."""
    old, new = RsaKey("k1"), RsaKey("k2")
    with jwks_server(old) as idp:
        settings = security_settings(sqlite_template, tmp_path, algorithms=["RS256"], jwks_url=idp.url,
                                     jwks_cache_seconds=2, jwks_min_refresh_seconds=0)
        with client_of(settings) as client:
            assert client.get(SEARCH, headers=bearer(old.sign(claims()))).status_code == 200
            assert_refused(
                client.get(SEARCH, headers=bearer(new.sign(claims()))), "clé de signature inconnue")
            idp.keys.append(new)  # rotation starts: both published
            assert client.get(SEARCH, headers=bearer(new.sign(claims()))).status_code == 200
            assert idp.fetches == 3
            idp.keys.remove(old)  # rotation ends: k1 withdrawn
            cached_at = time.monotonic()
            assert client.get(SEARCH, headers=bearer(old.sign(claims()))).status_code == 200  # still cached
            time.sleep(max(0.0, cached_at + 2.2 - time.monotonic()))
            assert_refused(
                client.get(SEARCH, headers=bearer(old.sign(claims()))), "clé de signature inconnue")
            assert client.get(SEARCH, headers=bearer(new.sign(claims()))).status_code == 200


def test_fhir_refusals_carry_the_challenge_too(sqlite_template: Path, tmp_path: Path) -> None:
    with client_of(security_settings(sqlite_template, tmp_path)) as client:
        response = client.get("/fhir/Patient?family=martin",
                              headers=bearer(hs_token(claims(exp=int(time.time()) - 5), SECRET)))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"
    assert "jeton expiré" in body["issue"][0]["diagnostics"]
