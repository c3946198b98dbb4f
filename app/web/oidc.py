"""OpenID Connect sign-in: authorization code flow with PKCE (S256), state and nonce.

The provider's metadata (discovery) and keys (JWKS) are fetched with a timeout and cached. The ID
token is checked (signature with the provider's keys, issuer, audience, expiry, nonce, at_hash)
before anyone is signed in; roles come from the configured claim (a dotted path, a list or a
space-separated string), and only Identito's roles are kept.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from jose import JWTError, jwt

from app.config import WebSettings
from app.domain.roles import Role

_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class OidcError(Exception):
    """The provider's answer cannot be trusted or used (logged by code, never with claims)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class PendingLogin:
    """What the browser's session keeps between the redirect to the provider and the callback."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class SignedInUser:
    """Who the provider says signed in."""

    subject: str
    display_name: str
    roles: frozenset[str]


class OidcClient:
    """The establishment's provider, as a confidential client."""

    def __init__(self, settings: WebSettings, redirect_uri: str) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def start(self) -> tuple[str, PendingLogin]:
        """The provider's authorization URL and what to keep in the session until the callback."""
        token = secrets.token_urlsafe
        pending = PendingLogin(token(32), token(32), token(64))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest())
        params = {
            "response_type": "code", "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.redirect_uri, "scope": " ".join(self.settings.oidc_scopes),
            "state": pending.state, "nonce": pending.nonce,
            "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        }
        if self.settings.oidc_prompt_login:
            params["prompt"] = "login"  # a shared desk workstation: never the previous agent's session
        return f"{self._meta()['authorization_endpoint']}?{urlencode(params)}", pending

    def finish(self, pending: PendingLogin, code: str) -> SignedInUser:
        """Exchange the code (with the PKCE verifier) and check the ID token."""
        meta = self._meta()
        try:
            response = httpx.post(
                meta["token_endpoint"], timeout=self.settings.oidc_timeout_seconds,
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                      "code_verifier": pending.verifier},
                auth=(self.settings.oidc_client_id or "", self.settings.oidc_client_secret or ""))
            response.raise_for_status()
            tokens = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError("token-request-failed") from exc
        claims = self._check_id_token(str(tokens.get("id_token", "")), tokens.get("access_token"), meta)
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending.nonce):
            raise OidcError("nonce-mismatch")
        name = claims.get("name") or claims.get("preferred_username") or claims["sub"]
        return SignedInUser(str(claims["sub"]), str(name)[:100], self._roles(claims))

    def _check_id_token(self, id_token: str, access_token: Any, meta: dict[str, Any]) -> dict[str, Any]:
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in _ASYMMETRIC]
        try:
            return dict(jwt.decode(
                id_token, self._keys(), algorithms=algorithms, audience=self.settings.oidc_client_id,
                issuer=meta.get("issuer", self.issuer),
                access_token=access_token if isinstance(access_token, str) else None,
                options={"require_exp": True, "require_iss": True, "require_aud": True, "require_sub": True}))
        except JWTError as exc:
            raise OidcError("id-token-invalid") from exc

    def _roles(self, claims: dict[str, Any]) -> frozenset[str]:
        value: Any = claims
        for part in self.settings.oidc_roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            value = value.split()
        known = {r.value for r in Role}
        return frozenset(str(v) for v in (value or []) if str(v) in known)

    def _meta(self) -> dict[str, Any]:
        self._refresh()
        assert self._metadata is not None
        return self._metadata

    def _keys(self) -> dict[str, Any]:
        self._refresh()
        assert self._jwks is not None
        return self._jwks

    def _refresh(self) -> None:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if self._metadata is not None and age < self.settings.oidc_cache_seconds:
                return
            timeout = self.settings.oidc_timeout_seconds
            try:
                meta = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=timeout)
                meta.raise_for_status()
                metadata = dict(meta.json())
                keys = httpx.get(metadata["jwks_uri"], timeout=timeout)
                keys.raise_for_status()
                self._metadata, self._jwks = metadata, dict(keys.json())
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise OidcError("provider-unavailable") from exc
            self._fetched_at = time.monotonic()
