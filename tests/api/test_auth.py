"""Bearer tokens: signature, exp, iss, aud, pinned algorithms, roles; 401 vs 403."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jose import jwt

from app.api.auth import issue_dev_token
from app.config import AuthSettings, Settings, development_settings
from app.main import create_app

BODY = {"birth_name": "X", "first_names": "Y", "birth_date": "1980", "sex": "F"}


def _claims(settings: Settings, **overrides: object) -> dict:
    now = int(time.time())
    claims = {"sub": "u1", "iss": settings.auth.issuer, "aud": settings.auth.audience, "iat": now,
              "exp": now + 60, "roles": ["admission"]}
    claims.update(overrides)
    return claims


def _status(client: TestClient, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get("/identities?birth_name=x", headers=headers).status_code


def test_missing_or_bad_tokens_give_401(client: TestClient, settings: Settings) -> None:
    secret = settings.auth.secret
    assert _status(client, None) == 401
    response = client.get("/identities", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert _status(client, "garbage") == 401
    assert _status(client, jwt.encode(_claims(settings, exp=int(time.time()) - 10), secret)) == 401
    assert _status(client, jwt.encode(_claims(settings, iss="other"), secret)) == 401
    assert _status(client, jwt.encode(_claims(settings, aud="other"), secret)) == 401
    assert _status(client, jwt.encode(_claims(settings), "another-secret")) == 401
    assert _status(client, jwt.encode(_claims(settings), secret, algorithm="HS512")) == 401
    no_exp = _claims(settings)
    del no_exp["exp"]
    assert _status(client, jwt.encode(no_exp, secret)) == 401
    assert _status(client, jwt.encode(_claims(settings), secret)) == 200


def test_alg_none_is_refused(client: TestClient, settings: Settings) -> None:
    import base64
    import json

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(settings))}."
    assert _status(client, unsigned) == 401
    with pytest.raises(ValueError):
        AuthSettings(secret="x", algorithms=["none"])


def test_roles_give_403_not_401(client: TestClient, settings: Settings) -> None:
    token = jwt.encode(_claims(settings, roles=["documents"]), settings.auth.secret)
    response = client.post("/identities", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and "admission" in response.json()["detail"]
    unknown = jwt.encode(_claims(settings, roles=["superuser"]), settings.auth.secret)
    assert _status(client, unknown) == 403


def test_rs256_public_key_and_nested_roles_claim(database_url: str, tmp_path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    settings = development_settings(
        database_url=database_url,
        auth={"algorithms": ["RS256"], "public_key_pem": pem, "roles_claim": "realm_access.roles"},
    )
    with TestClient(create_app(settings)) as client:
        good = jwt.encode(_claims(settings, roles=None, realm_access={"roles": ["admission"]}), private,
                          algorithm="RS256")
        assert _status(client, good) == 200
        # An HS256 token signed with the public key as secret must not pass (algorithm confusion).
        confused = jwt.encode(_claims(settings), "irrelevant", algorithm="HS256")
        assert _status(client, confused) == 401


def test_dev_tokens_need_the_development_key() -> None:
    with pytest.raises(RuntimeError):
        issue_dev_token(AuthSettings(secret="s"), "u", ["admission"])
    with pytest.raises(ValueError):
        issue_dev_token(AuthSettings(secret="s", dev_tokens=True), "u", ["root"])
    with pytest.raises(ValueError):
        Settings(environment="production", auth={"secret": "s", "dev_tokens": True})
    with pytest.raises(ValueError):
        Settings(environment="production", auth={})


def test_audit_rows_carry_the_token_subject(client: TestClient, settings: Settings) -> None:
    token = issue_dev_token(settings.auth, "nurse-7", ["admission"])
    created = client.post("/identities", json=BODY, headers={"Authorization": f"Bearer {token}"}).json()
    history = client.get(f"/identities/{created['id']}/history", headers={"Authorization": f"Bearer {token}"})
    assert history.json()[0]["actor"] == "nurse-7"


def test_jwks_from_the_identity_provider(database_url: str) -> None:
    """Production mode: keys fetched from the provider's JWKS URL over a real socket, by kid."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from jose import jwk

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    jwks = {"keys": [{**jwk.construct(public, "RS256").to_dict(), "kid": "k1", "use": "sig"}]}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            body = json.dumps(jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(
            environment="production", database_url=database_url,
            auth={"algorithms": ["RS256"], "jwks_url": f"http://127.0.0.1:{server.server_port}/certs",
                  "issuer": "https://sso.example.org", "audience": "identito"},
        )
        with TestClient(create_app(settings)) as client:
            claims = _claims(settings)
            good = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k1"})
            assert _status(client, good) == 200
            assert _status(client, good) == 200
            assert hits == ["/certs"]  # cached
            other_kid = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k2"})
            assert _status(client, other_kid) == 401
    finally:
        server.shutdown()


def test_unreachable_jwks_is_401_not_500(database_url: str) -> None:
    settings = Settings(environment="production", database_url=database_url,
                        auth={"algorithms": ["RS256"], "jwks_url": "http://127.0.0.1:9/certs",
                              "http_timeout_seconds": 1})
    with TestClient(create_app(settings)) as client:
        token = jwt.encode(_claims(settings), "x", algorithm="HS256")
        response = client.get("/identities", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401  # the default language is French, the reason too
        assert "clés du fournisseur d'identité indisponibles" in response.json()["detail"]
