"""FastAPI dependencies: settings, service context, the authenticated actor, If-Match."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from app.api.auth import AuthError, KeysNeeded, TokenVerifier
from app.config import Settings
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


async def get_settings(request: Request) -> Settings:
    """The process settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_ctx(request: Request) -> ServiceContext:
    """The service context built by the composition root."""
    return request.app.state.ctx  # type: ignore[no-any-return]


async def current_actor(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    """The token's subject and roles; 401 without a valid bearer token, 429 after too many refusals.

    Verified on the event loop (pure CPU, no thread hop); only a fetch of the identity provider's
    keys is handed to a thread. Each refusal is counted by reason and per client address.
    """
    verifier: TokenVerifier = request.app.state.verifier
    address = request.client.host if request.client else "unknown"
    verifier.failures.check(address)
    try:
        claims = await _verified_claims(verifier, authorization)
    except AuthError as exc:
        verifier.failures.record(address, exc.reason)
        raise
    return Actor(subject=str(claims["sub"]), roles=verifier.roles(claims))


async def _verified_claims(verifier: TokenVerifier, authorization: str | None) -> dict[str, Any]:
    if not authorization:
        raise AuthError(why="no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(why="expected 'Bearer <token>'")
    try:
        return verifier.verify(token.strip(), fetch=False)
    except KeysNeeded:
        return await run_in_threadpool(verifier.verify, token.strip())


def require_roles(*roles: Role) -> Callable[..., Awaitable[Actor]]:
    """Dependency: the actor, refused with 403 unless holding one of the roles."""

    async def dependency(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        require_any(actor.roles, *roles)
        return actor

    return dependency


def if_match_version(if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> int | None:
    """The version the client read, from If-Match (None when absent)."""
    if if_match is None:
        return None
    match = _ETAG.match(if_match)
    if match is None:
        from app.services.errors import VersionRequired

        raise VersionRequired()
    return int(match.group(1))


def etag(version: int) -> str:
    """ETag header value of an identity version."""
    return f'"{version}"'


CtxDep = Annotated[ServiceContext, Depends(get_ctx)]
ActorDep = Annotated[Actor, Depends(current_actor)]
VersionDep = Annotated[int | None, Depends(if_match_version)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
