"""Sign-in through the establishment's OpenID Connect provider (authorization code + PKCE)."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from app.web.errors import PREFIX
from app.web.oidc import OidcClient, OidcError, PendingLogin
from app.web.render import session_of

router = APIRouter()
log = logging.getLogger("identito.web")


def _client(request: Request) -> OidcClient:
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        raise HTTPException(404)
    return client


def _back_to_signin(request: Request, key: str) -> Response:
    session_of(request).flash = request.app.state.words(key)
    return RedirectResponse(f"{PREFIX}/signin", status_code=303)


@router.get("/signin/oidc", name="signin_oidc")
def signin_oidc(request: Request) -> Response:
    """Send the browser to the provider, with state, nonce and the PKCE challenge."""
    try:
        url, pending = _client(request).start()
    except OidcError as exc:
        log.warning("oidc sign-in not started: %s", exc.code)
        return _back_to_signin(request, "oidc_unavailable")
    session_of(request).pending_login = pending
    return RedirectResponse(url, status_code=303)


@router.get("/oidc/callback", name="oidc_callback")
def oidc_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    """The provider's answer: checked, then a fresh signed-in session."""
    client = _client(request)
    session = session_of(request)
    pending: PendingLogin | None = session.pending_login
    session.pending_login = None
    if error:
        return _back_to_signin(request, "oidc_cancelled")
    if pending is None or not state or not secrets.compare_digest(state, pending.state) or not code:
        log.warning("oidc callback refused: unexpected state")
        return _back_to_signin(request, "oidc_refused")
    try:
        user = client.finish(pending, code)
    except OidcError as exc:
        log.warning("oidc callback refused: %s", exc.code)
        unavailable = exc.code in ("provider-unavailable", "token-request-failed")
        key = "oidc_unavailable" if unavailable else "oidc_refused"
        return _back_to_signin(request, key)
    if not user.roles:
        return _back_to_signin(request, "no_role")
    store = request.app.state.sessions
    request.state.session = store.sign_in(session, user.subject, user.roles, user.display_name)
    return RedirectResponse(f"{PREFIX}/", status_code=303)
