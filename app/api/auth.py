"""Bearer token verification (python-jose) and development tokens.

Algorithms come from the settings, never from the token header; ``none`` is refused by the
settings, and HS* never mixes with public keys (algorithm confusion). Keys: a shared secret or PEM
public key in development, the establishment's OIDC JWKS in production (fetched with a timeout,
cached ``jwks_cache_seconds``, fetched again early when a token names an unknown ``kid``, at most
once per ``jwks_min_refresh_seconds``). Refusals and their limits per client: docs/security.md.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
from jose import JWTError, jwt
from jose.exceptions import JOSEError

from app.api.auth_failures import FailureLimiter
from app.config import AuthSettings
from app.domain.errors import DomainError
from app.domain.messages import register, register_terms
from app.domain.roles import Role


class AuthError(DomainError):
    """Missing, malformed, expired or untrusted bearer token (HTTP 401)."""

    code = "unauthenticated"

    @property
    def reason(self) -> str:
        """A short label of why (the /metrics ``reason`` label)."""
        return REASON_LABELS.get(str(self.params.get("why")), "invalid")


REASON_LABELS = {
    "no Authorization header": "missing",
    "expected 'Bearer <token>'": "malformed",
    "malformed token": "malformed",
    "unknown signing key": "unknown_key",
    "identity provider keys unavailable": "keys_unavailable",
    "expired": "expired",
    "not yet valid": "not_yet_valid",
    "wrong audience": "wrong_audience",
    "wrong issuer": "wrong_issuer",
    "algorithm not allowed": "algorithm",
    "bad signature": "bad_signature",
    "invalid token": "invalid",
}


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
    "not yet valid": "jeton pas encore valide (date d'émission ou de début dans le futur)",
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
        self.failures = FailureLimiter(settings.failure_limit, settings.failure_window_seconds)

    def _key(self, token: str, fetch: bool) -> Any:
        if self.settings.jwks_url:
            return self._jwks_keys(token, fetch)
        return self.settings.public_key_pem or self.settings.secret

    def _jwks_keys(self, token: str, fetch: bool) -> Any:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except JWTError as exc:
            raise AuthError(why="malformed token") from exc
        if not self._lock.acquire(blocking=fetch):
            raise KeysNeeded()  # another thread is fetching: never wait for it on an event loop
        try:
            age = time.monotonic() - self._jwks_at
            keys = _matching(self._jwks, kid)
            # Rotation: a new kid at the provider is fetched before the cache expires (bounded rate).
            unknown = not keys and self._jwks is not None and age > self.settings.jwks_min_refresh_seconds
            if self._jwks is None or age > self.settings.jwks_cache_seconds or unknown:
                if not fetch:
                    raise KeysNeeded()
                self._jwks = self._fetch_jwks()
                self._jwks_at = time.monotonic()
                keys = _matching(self._jwks, kid)
        finally:
            self._lock.release()
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
        leeway = self.settings.leeway_seconds
        try:
            claims = dict(
                jwt.decode(
                    token,
                    self._key(token, fetch),
                    algorithms=self.settings.algorithms,
                    audience=self.settings.audience,
                    issuer=self.settings.issuer,
                    options={"require_exp": True, "require_iss": True, "require_aud": True,
                             "require_sub": True, "verify_nbf": False},
                )
            )
        except JOSEError as exc:  # JWKError too: a key of the wrong type is a refusal, not a 500
            raise AuthError(why=_reason(exc)) from exc
        # Clock skew is tolerated on the start of validity only: exp is strict (no replay after it).
        # python-jose would apply one leeway to exp and nbf alike, and checks iat only as a number.
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise AuthError(why="invalid token")
            if value is not None and value > time.time() + leeway:
                raise AuthError(why="not yet valid")
        return claims

    def roles(self, claims: dict[str, Any]) -> frozenset[str]:
        """Roles from the configured claim (dotted path allowed, list or space-separated)."""
        value: Any = claims
        for part in self.settings.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            value = value.split()
        known = {r.value for r in Role}
        return frozenset(str(v) for v in (value or []) if str(v) in known)


def _matching(jwks: dict[str, Any] | None, kid: Any) -> list[dict[str, Any]]:
    """The keys of a JWKS that a token's kid designates (all of them when it names none)."""
    return [k for k in (jwks or {}).get("keys", []) if kid is None or k.get("kid") == kid]


def _reason(exc: JOSEError) -> str:
    text = str(exc).lower()
    if "expired" in text:
        return "expired"
    if "not yet valid" in text:
        return "not yet valid"
    if "padding" in text or "segments" in text or "header string" in text or "payload string" in text:
        return "malformed token"
    if "audience" in text:
        return "wrong audience"
    if "issuer" in text:
        return "wrong issuer"
    if "alg" in text or "key type" in text or "hmac" in text:
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
