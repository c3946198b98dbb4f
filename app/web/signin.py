"""Sign-in and sign-out pages; the development sign-in exists only where development tokens are
allowed (IDENTITO_AUTH__DEV_TOKENS, refused in production). OpenID Connect: app/web/signin_oidc.py.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from app.config import Settings
from app.domain.roles import Role
from app.web.deps import CsrfDep, render, session_of
from app.web.errors import PREFIX
from app.web.i18n import ROLE_LABELS

router = APIRouter()
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _roles_offered(request: Request) -> list[tuple[str, str]]:
    words = request.app.state.words
    return [(role.value, words.of(ROLE_LABELS, role.value)) for role in Role]


@router.get("/signin", name="signin")
def signin_page(request: Request) -> Response:
    """The sign-in page (development form when development tokens are allowed)."""
    if session_of(request).signed_in:
        return RedirectResponse(f"{PREFIX}/", status_code=303)
    dev = _settings(request).auth.dev_tokens
    oidc = request.app.state.oidc is not None
    return render(request, "signin.html", dev=dev, oidc=oidc, roles=_roles_offered(request))


@router.post("/signin/dev", name="signin_dev")
def signin_dev(
    request: Request, _: CsrfDep,
    user: Annotated[str, Form(max_length=64)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Sign in as any user with the roles picked (development and training only)."""
    if not _settings(request).auth.dev_tokens:
        raise HTTPException(404)
    words = request.app.state.words
    picked = sorted({r for r in roles or [] if r in {x.value for x in Role}})
    error = None if _USER.fullmatch(user.strip()) else words("bad_user")
    error = error or (None if picked else words("pick_role"))
    if error:
        return render(request, "signin.html", status_code=422, dev=True, roles=_roles_offered(request),
                      oidc=request.app.state.oidc is not None,
                      error=error, user=user.strip()[:64], picked=picked)
    store = request.app.state.sessions
    request.state.session = store.sign_in(session_of(request), user.strip(), frozenset(picked), user.strip())
    return RedirectResponse(f"{PREFIX}/", status_code=303)


@router.post("/signout", name="signout")
def signout(request: Request, _: CsrfDep) -> Response:
    """Sign out: the session is forgotten on the server, a new anonymous one starts."""
    store = request.app.state.sessions
    store.drop(session_of(request))
    request.state.session = store.new()
    request.state.session.flash = request.app.state.words("signed_out")
    return RedirectResponse(f"{PREFIX}/signin", status_code=303)
