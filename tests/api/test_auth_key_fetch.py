"""Tokens are verified on the event loop; only identity-provider key fetches go to a thread."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient
from jose import jwt

from app.api.auth import KeysNeeded, TokenVerifier
from app.config import AuthSettings, development_settings
from app.db.migrations import upgrade
from app.main import build_context, create_app


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks"


def _token() -> str:
    now = int(time.time())
    claims = {"sub": "agent", "iss": "identito-dev", "aud": "identito", "iat": now, "exp": now + 60}
    return str(jwt.encode(claims, "k" * 32, algorithm="HS256"))


def test_without_fetch_missing_keys_are_reported_not_fetched() -> None:
    verifier = TokenVerifier(AuthSettings(jwks_url=_closed_port_url(), http_timeout_seconds=5.0))
    started = time.monotonic()
    with pytest.raises(KeysNeeded):
        verifier.verify(_token(), fetch=False)
    assert time.monotonic() - started < 0.5


def test_without_fetch_a_fetch_in_progress_is_not_waited_for() -> None:
    verifier = TokenVerifier(AuthSettings(jwks_url=_closed_port_url()))
    verifier._jwks, verifier._jwks_at = {"keys": []}, time.monotonic()  # fresh (empty) key set
    holder_ready, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with verifier._lock:
            holder_ready.set()
            release.wait(5)

    thread = threading.Thread(target=hold_lock)
    thread.start()
    holder_ready.wait(5)
    try:
        with pytest.raises(KeysNeeded):
            verifier.verify(_token(), fetch=False)
    finally:
        release.set()
        thread.join()


def test_api_answers_401_when_the_identity_provider_keys_cannot_be_fetched(tmp_path) -> None:
    settings = development_settings(
        database_url=f"sqlite:///{tmp_path / 'auth.db'}", language="en",
        auth={"jwks_url": _closed_port_url(), "http_timeout_seconds": 2.0},
    )
    upgrade(settings.database_url)
    ctx = build_context(settings)
    with TestClient(create_app(settings, ctx=ctx)) as client:
        response = client.get("/identities", headers={"Authorization": f"Bearer {_token()}"})
    ctx.engine.dispose()
    assert response.status_code == 401
    assert "identity provider keys unavailable" in response.text
