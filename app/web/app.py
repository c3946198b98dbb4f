"""The browser application, mounted at /app: sessions, security headers, error pages, routes.

A sub-application of its own so that its middleware (sessions, Content-Security-Policy) and its
HTML error pages never touch the JSON API, and the API's problem+json handlers never answer a page.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware

from app.api.errors import status_for
from app.config import Settings
from app.db.errors import InvalidValue
from app.domain.errors import DomainError
from app.services.context import ServiceContext
from app.services.documents import DocumentTools
from app.web import (
    admin,
    campaigns,
    cell,
    corrections,
    create,
    indicators,
    insi,
    pages,
    pairs,
    printing,
    signin,
    signin_oidc,
)
from app.web.errors import PREFIX, CsrfRefused, SignInRequired
from app.web.i18n import Words
from app.web.oidc import OidcClient
from app.web.render import render
from app.web.sessions import COOKIE_NAME, SessionStore, WebSession

HERE = Path(__file__).parent
# No inline script or style anywhere: htmx and app.js come from this server, htmx's own indicator
# style is turned off (htmx-config meta), and nothing may frame the pages.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def cookie_secure(settings: Settings) -> bool:
    """Secure cookies, except for development or test deployments answering on plain http."""
    if settings.web.cookie_secure is not None:
        return settings.web.cookie_secure
    plain_http = settings.public_url.startswith("http://")
    return not (plain_http and settings.environment != "production")


class SessionMiddleware(BaseHTTPMiddleware):
    """Loads (or starts) the browser session, sets its cookie, adds the security headers."""

    def __init__(self, app: Any, store: SessionStore, secure: bool) -> None:
        super().__init__(app)
        self.store, self.secure = store, secure

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        static = request.url.path.startswith(f"{PREFIX}/static/")
        if not static:
            cookie = request.cookies.get(COOKIE_NAME)
            session = self.store.load(cookie)
            request.state.session = session or self.store.new()
            request.state.cookie_session_id = session.id if session else None
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not static:
            response.headers["Cache-Control"] = "no-store"
            current: WebSession = request.state.session
            if current.id != request.state.cookie_session_id:
                response.set_cookie(COOKIE_NAME, self.store.cookie_value(current), path=PREFIX,
                                    secure=self.secure, httponly=True, samesite="lax")
        return response


def create_web_app(settings: Settings, ctx: ServiceContext,
                   documents: DocumentTools | None = None, *, hl7_processor: Any = None) -> FastAPI:
    """The browser application (mount it at /app); ``documents``: the API's document tools (printing);
    ``hl7_processor``: the API's inbound pipeline (re-runs of quarantined messages)."""
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    store = SessionStore(settings.web.session_secret or secrets.token_urlsafe(48),
                         idle_seconds=settings.web.session_idle_minutes * 60,
                         max_age_seconds=settings.web.session_max_hours * 3600)
    templates = Jinja2Templates(directory=HERE / "templates")
    words = Words(settings.language)
    templates.env.globals.update(t=words, language=settings.language)
    templates.env.globals.update(insi.template_globals(words))
    web.state.settings, web.state.ctx, web.state.sessions = settings, ctx, store
    web.state.templates, web.state.words = templates, words
    web.state.hl7_processor = hl7_processor
    web.state.documents = documents
    redirect_uri = f"{settings.public_url.rstrip('/')}{PREFIX}/oidc/callback"
    web.state.oidc = OidcClient(settings.web, redirect_uri) if settings.web.oidc_issuer else None
    web.add_middleware(SessionMiddleware, store=store, secure=cookie_secure(settings))
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    web.include_router(signin.router)
    web.include_router(signin_oidc.router)
    web.include_router(create.router)  # before pages: /identities/new is not an identity number
    web.include_router(pages.router)
    web.include_router(cell.router)
    web.include_router(pairs.router)
    web.include_router(insi.router)
    web.include_router(corrections.router)
    web.include_router(admin.router)
    web.include_router(campaigns.router)  # the cell's INSi campaigns and call journal
    web.include_router(indicators.router)
    web.include_router(printing.router)
    _install_error_pages(web, templates, words)
    return web


def _install_error_pages(web: FastAPI, templates: Jinja2Templates, words: Words) -> None:
    def page(request: Request, status: int, message: str, title: str | None = None) -> Response:
        return render(request, "error.html", status_code=status, message=message, title=title)

    @web.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        target = f"{PREFIX}/signin"
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @web.exception_handler(CsrfRefused)
    def _csrf(request: Request, exc: CsrfRefused) -> Response:
        return page(request, 403, words("csrf"))

    @web.exception_handler(DomainError)
    def _domain(request: Request, exc: DomainError) -> Response:
        status = status_for(exc) or 400
        title = words("access_denied") if status == 403 else None
        return page(request, status, exc.message(words.language), title)

    @web.exception_handler(RequestValidationError)
    @web.exception_handler(InvalidValue)
    @web.exception_handler(DataError)
    @web.exception_handler(OverflowError)
    def _invalid(request: Request, exc: Exception) -> Response:
        # Also a value the database cannot store (an id beyond 64 bits, which SQLite's driver refuses
        # with a bare OverflowError): nothing was written; the address or the form is at fault.
        return page(request, 404 if request.method == "GET" else 422, words("bad_request"))

    @web.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = words("not_found") if exc.status_code == 404 else str(exc.detail)
        return page(request, exc.status_code, message)
