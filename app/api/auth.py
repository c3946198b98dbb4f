"""Bearer token verification (python-jose) and development tokens.

Algorithms come from the settings, never from the token header; ``none`` is refused by the
settings. Keys: a shared secret or PEM public key in development, the establishment's OIDC JWKS in
production (fetched with a timeout and cached).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
from jose import JWTError, jwt

from app.config import AuthSettings
from app.domain.errors import DomainError
from app.domain.messages import register, register_terms
from app.domain.roles import Role


class AuthError(DomainError):
    """Missing, malformed, expired or untrusted bearer token (HTTP 401)."""

    code = "unauthenticated"


register(
    "unauthenticated",
    "Authentication required: send a valid bearer token ({why}).",
    "Authentification requise : envoyez un jeton porteur valide ({why}).",
)
register_terms({
    "no Authorization header": "aucun en-tête Authorization",
    "expected 'Bearer <token>'": "« Bearer <jeton> » attendu",
    "malformed token": "jeton mal formé",
    "unknown signing key": "clé de signature inconnue",
    "identity provider keys unavailable": "clés du fournisseur d'identité indisponibles",
    "expired": "jeton expiré",
    "wrong audience": "audience incorrecte",
    "wrong issuer": "émetteur incorrect",
    "algorithm not allowed": "algorithme non autorisé",
    "bad signature": "signature invalide",
    "invalid token": "jeton invalide",
}, parameter="why")


class KeysNeeded(Exception):
    """The identity provider's keys must be fetched (network) before this token can be checked."""


class TokenVerifier:
    """Verifies bearer tokens against the configured key or JWKS."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks: dict[str, Any] | None = None
        self._jwks_at = 0.0
        self._lock = threading.Lock()

    def _key(self, token: str, fetch: bool) -> Any:
        if self.settings.jwks_url:
            return self._jwks_keys(token, fetch)
        return self.settings.public_key_pem or self.settings.secret

    def _jwks_keys(self, token: str, fetch: bool) -> Any:
        if not self._lock.acquire(blocking=fetch):
            raise KeysNeeded()  # another thread is fetching: never wait for it on an event loop
        try:
            stale = time.monotonic() - self._jwks_at > self.settings.jwks_cache_seconds
            if self._jwks is None or stale:
                if not fetch:
                    raise KeysNeeded()
                self._jwks = self._fetch_jwks()
                self._jwks_at = time.monotonic()
            jwks = self._jwks
        finally:
            self._lock.release()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except JWTError as exc:
            raise AuthError(why="malformed token") from exc
        keys = [k for k in jwks.get("keys", []) if kid is None or k.get("kid") == kid]
        if not keys:
            raise AuthError(why="unknown signing key")
        return {"keys": keys}

    def _fetch_jwks(self) -> dict[str, Any]:
        assert self.settings.jwks_url
        timeout = httpx.Timeout(self.settings.http_timeout_seconds)
        try:
            response = httpx.get(self.settings.jwks_url, timeout=timeout)
            response.raise_for_status()
            return dict(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthError(why="identity provider keys unavailable") from exc

    def verify(self, token: str, *, fetch: bool = True) -> dict[str, Any]:
        """Verify signature, exp, iss and aud; return the claims.

        With ``fetch=False`` nothing waits on the network or a lock: KeysNeeded is raised instead,
        so that an event loop can verify in place and hand only key fetches to a thread.
        """
        try:
            return dict(
                jwt.decode(
                    token,
                    self._key(token, fetch),
                    algorithms=self.settings.algorithms,
                    audience=self.settings.audience,
                    issuer=self.settings.issuer,
                    options={"require_exp": True, "require_iss": True, "require_aud": True,
                             "require_sub": True},
                )
            )
        except JWTError as exc:
            raise AuthError(why=_reason(exc)) from exc

    def roles(self, claims: dict[str, Any]) -> frozenset[str]:
        """Roles from the configured claim (dotted path allowed, list or space-separated)."""
        value: Any = claims
        for part in self.settings.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            value = value.split()
        known = {r.value for r in Role}
        return frozenset(str(v) for v in (value or []) if str(v) in known)


def _reason(exc: JWTError) -> str:
    text = str(exc).lower()
    if "expired" in text:
        return "expired"
    if "audience" in text:
        return "wrong audience"
    if "issuer" in text:
        return "wrong issuer"
    if "alg" in text:
        return "algorithm not allowed"
    if "signature" in text:
        return "bad signature"
    return "invalid token"


def issue_dev_token(
    settings: AuthSettings, subject: str, roles: list[str], ttl_seconds: int = 8 * 3600
) -> str:
    """A development token signed with the shared secret; refused unless dev tokens are enabled."""
    if not settings.dev_tokens or not settings.secret:
        raise RuntimeError(
            "development tokens are disabled: set IDENTITO_AUTH__DEV_TOKENS=true and "
            "IDENTITO_AUTH__SECRET (development only)"
        )
    unknown = sorted(set(roles) - {r.value for r in Role})
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}")
    algorithm = next((a for a in settings.algorithms if a.startswith("HS")), None)
    if algorithm is None:
        raise RuntimeError("development tokens need an HS* algorithm in IDENTITO_AUTH__ALGORITHMS")
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
        settings.roles_claim.split(".")[0]: roles,
    }
    return str(jwt.encode(claims, settings.secret, algorithm=algorithm))
