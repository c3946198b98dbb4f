"""Page dependencies: the signed-in actor, the CSRF check of POST forms, template rendering."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request

from app.services.context import Actor, ServiceContext
from app.web.errors import CsrfRefused, SignInRequired
from app.web.render import render, session_of
from app.web.sessions import check_csrf

__all__ = ["ActorDep", "CsrfDep", "CtxDep", "render", "session_of"]


def signed_in_actor(request: Request) -> Actor:
    """The signed-in user as an actor of the services; sign-in page otherwise."""
    session = session_of(request)
    if session.subject is None:
        raise SignInRequired()
    return Actor(session.subject, session.roles)


def checked_csrf(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    """Refuse a POST form without this session's CSRF token (hidden field)."""
    if not check_csrf(session_of(request), csrf_token):
        raise CsrfRefused()


def ctx_of(request: Request) -> ServiceContext:
    """The service context shared with the API."""
    return request.app.state.ctx  # type: ignore[no-any-return]


ActorDep = Annotated[Actor, Depends(signed_in_actor)]
CsrfDep = Annotated[None, Depends(checked_csrf)]
CtxDep = Annotated[ServiceContext, Depends(ctx_of)]
