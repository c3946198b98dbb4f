"""Rendering a page or an htmx fragment with the session's values (user, CSRF token, message)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from app.web.sessions import WebSession


def session_of(request: Request) -> WebSession:
    """The browser session the middleware loaded."""
    return request.state.session  # type: ignore[no-any-return]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page or fragment, with the session (user, CSRF token, one-time message) in its context."""
    session = session_of(request)
    flash, session.flash = session.flash, None
    values = {"session": session, "csrf_token": session.csrf_token, "flash": flash, **context}
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, values, status_code=status_code)
