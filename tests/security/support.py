"""Helpers of the security tests: token forging, a JWKS endpoint over a real socket, app builders."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jose import jwk, jwt

from app.config import Settings, development_settings
from app.main import create_app

ISSUER, AUDIENCE = "https://sso.chu.example", "identito"


def b64(data: bytes) -> str:
    """base64url without padding (JWS)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(roles: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Valid claims for ISSUER/AUDIENCE, valid one minute, with these roles (admission by default)."""
    now = int(time.time())
    base: dict[str, Any] = {"sub": "agent-7", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60,
                            "roles": ["admission"] if roles is None else roles}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs_token(payload: dict[str, Any], secret: bytes | str, alg: str = "HS256", **header: Any) -> str:
    """A JWS signed with HMAC by hand (python-jose refuses a PEM as secret: an attacker would not)."""
    key = secret.encode() if isinstance(secret, str) else secret
    head = b64(json.dumps({"alg": alg, "typ": "JWT", **header}).encode())
    body = b64(json.dumps(payload).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    return f"{head}.{body}.{b64(hmac.new(key, f'{head}.{body}'.encode(), digest).digest())}"


def unsigned_token(payload: dict[str, Any], alg: str = "none") -> str:
    """alg=none (or another spelling), empty signature."""
    return f"{b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{b64(json.dumps(payload).encode())}."


@dataclass
class RsaKey:
    """An RSA key pair of the test identity provider."""

    kid: str
    private_pem: str = ""
    public_pem: str = ""

    def __post_init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, payload: dict[str, Any], kid: str | None = "same") -> str:
        headers = {"kid": self.kid if kid == "same" else kid} if kid else None
        return str(jwt.encode(payload, self.private_pem, algorithm="RS256", headers=headers))

    def jwk(self) -> dict[str, Any]:
        return {**jwk.construct(self.public_pem, "RS256").to_dict(), "kid": self.kid, "use": "sig"}


@dataclass
class JwksServer:
    """The identity provider's JWKS endpoint on 127.0.0.1: keys can be added and removed live."""

    keys: list[RsaKey] = field(default_factory=list)
    fetches: int = 0
    url: str = ""


@contextmanager
def jwks_server(*keys: RsaKey) -> Iterator[JwksServer]:
    """Serve the keys' JWKS over a real socket until the block ends."""
    state = JwksServer(list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.fetches += 1
            body = json.dumps({"keys": [k.jwk() for k in state.keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/realms/chu/protocol/openid-connect/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def security_settings(sqlite_template: Path, tmp_path: Path, **auth: Any) -> Settings:
    """Development settings on a copy of the migrated SQLite file, in French, with these token settings."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "security.db"
    shutil.copy(sqlite_template, path)
    values: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, **auth}
    if not any(k in values for k in ("secret", "public_key_pem", "jwks_url")):
        values.update(secret="dev-only-security-tests-secret", dev_tokens=True)
    return development_settings(database_url=f"sqlite:///{path}", var_dir=tmp_path / "var", language="fr",
                                auth=values)


@contextmanager
def client_of(settings: Settings) -> Iterator[TestClient]:
    """A TestClient on the whole application of these settings."""
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.ctx.engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
