"""Rendering a page or an htmx fragment with the session's values (user, CSRF token, message)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from app.domain.roles import Role
from app.services import campaigns, duplicates, identities, qualification, quarantine, worklists
from app.web.sessions import WebSession


def allowed(session: WebSession) -> dict[str, bool]:
    """Which links the pages offer this user: the services' own role lists (the services refuse
    anyway; a link nobody may follow is not shown)."""
    roles = session.roles
    return {
        "create": bool(roles & {r.value for r in identities.EDITORS}),
        "cell": bool(roles & {r.value for r in worklists.CELL}),
        "pairs": bool(roles & {r.value for r in duplicates.CELL}),
        "insi": bool(roles & {r.value for r in qualification.DESK}),  # INSi and identity documents
        "correct": Role.IDENTITOVIGILANCE.value in roles,  # corrections of traits and attributes
        "admin": Role.ADMIN.value in roles,  # subscribers, queues, dead letters
        "quarantine": bool(roles & {r.value for r in quarantine.OPERATORS}),
        "insi_cell": bool(roles & {r.value for r in campaigns.CELL}),  # campaigns, journal, indicators
    }


def session_of(request: Request) -> WebSession:
    """The browser session the middleware loaded."""
    return request.state.session  # type: ignore[no-any-return]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page or fragment, with the session (user, CSRF token, one-time message) in its context."""
    session = session_of(request)
    flash, session.flash = session.flash, None
    values = {"session": session, "csrf_token": session.csrf_token, "flash": flash, "can": allowed(session),
              **context}
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, values, status_code=status_code)
