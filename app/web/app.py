"""The browser application, mounted at /app: sessions, security headers, error pages, routes.

A sub-application of its own so that its middleware (sessions, Content-Security-Policy) and its
HTML error pages never touch the JSON API, and the API's problem+json handlers never answer a page.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware

from app.api.errors import status_for
from app.config import Settings
from app.db.errors import DatabaseUnavailable, InvalidValue
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
from app.web.sessions import COOKIE_NAME, SessionStore, WebSession, cookie_secret

HERE = Path(__file__).parent
log = logging.getLogger("identito.web")
FORM_ECHO_LIMIT = 64 * 1024  # a url-encoded form up to this size can be sent again from an error page
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
    """Loads (or starts) the browser session, stores what changed in it after the response, sets its
    cookie, adds the security headers. A database lost while the session is read gets the same 503
    page as one lost by a handler (the handler has not run); lost while the session is written, the
    handler's answer stands and only the session's change is lost."""

    def __init__(self, app: Any, store: SessionStore, secure: bool) -> None:
        super().__init__(app)
        self.store, self.secure = store, secure

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith(f"{PREFIX}/static/"):
            response = await call_next(request)
            response.headers.update(SECURITY_HEADERS)
            return response
        try:
            session = await run_in_threadpool(self.store.load, request.cookies.get(COOKIE_NAME))
        except (DatabaseUnavailable, OperationalError) as exc:
            request.state.session = self.store.new()  # for this page only: never stored, no cookie
            await FormEcho.read(request)  # no handler read the form: read it for the resend button
            return _no_store(unavailable_page(request, exc))
        request.state.session = session or self.store.new()
        response = await call_next(request)
        current: WebSession = request.state.session
        changes = self.store.changes(current)
        if changes is not None:
            try:
                await run_in_threadpool(self.store.commit, current, changes)
            except (DatabaseUnavailable, OperationalError) as exc:
                # The handler's own transaction is done: its answer stands (a 503 page saying
                # nothing was written would be wrong, and resending could do it twice). Only the
                # session's change is lost: a sign-in asks again, a one-time message is not shown.
                kind = exc.orig if isinstance(exc, OperationalError) else exc
                log.warning("web session not stored after %s %s: %s", request.method, request.url.path,
                            type(kind).__name__)
        if session is None or current.id != session.id:
            response.set_cookie(COOKIE_NAME, self.store.cookie_value(current), path=PREFIX,
                                secure=self.secure, httponly=True, samesite="lax")
        return _no_store(response)


def _no_store(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def unavailable_page(request: Request, exc: Exception) -> Response:
    """The 503 page of a lost database: the transaction did not happen. It offers the same request
    again: a link for a page, the form as typed for a POST (FormEcho); an htmx request gets the
    message alone, which app.js shows above the page."""
    words = request.app.state.words
    kind = exc.orig if isinstance(exc, OperationalError) else exc
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(kind).__name__)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    partial = bool(request.headers.get("HX-Request"))
    response = render(request, "_unavailable.html" if partial else "unavailable.html", status_code=503,
                      message=words("db_unavailable"), title=words("db_unavailable_title"), target=target,
                      resend=FormEcho.fields(request) if request.method == "POST" else None)
    response.headers["Retry-After"] = "5"
    return response


class FormEcho:
    """Keeps the body of a url-encoded form POST in the request scope, so that the page answering a
    lost database can offer to send the same form again: what the agent typed is not lost (the desk
    forms say autocomplete="off", so a browser's Back does not bring their fields back). Only forms
    up to FORM_ECHO_LIMIT bytes; never a file upload."""

    SCOPE_KEY = "identito.form_echo"

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _url_encoded(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        scope[self.SCOPE_KEY] = chunks

        async def recording() -> Any:
            message = await receive()
            if message["type"] == "http.request" and scope.get(self.SCOPE_KEY) is not None:
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > FORM_ECHO_LIMIT:
                    scope[self.SCOPE_KEY] = None
            return message

        await self.app(scope, recording, send)

    @classmethod
    async def read(cls, request: Request) -> None:
        """Read a recorded form's body (through the recording receive) when nothing read it yet."""
        if request.scope.get(cls.SCOPE_KEY) == []:
            async for _ in request.stream():
                if request.scope.get(cls.SCOPE_KEY) is None:  # over the limit: not kept
                    break

    @classmethod
    def fields(cls, request: Request) -> list[tuple[str, str]] | None:
        """The form's fields as sent, or None (not a form, too large, or not read)."""
        chunks = request.scope.get(cls.SCOPE_KEY)
        if not chunks:
            return None
        try:
            return parse_qsl(b"".join(chunks).decode("utf-8"), keep_blank_values=True, max_num_fields=500)
        except (UnicodeDecodeError, ValueError):
            return None


def _url_encoded(scope: Any) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded")
    return False


def create_web_app(settings: Settings, ctx: ServiceContext,
                   documents: DocumentTools | None = None, *, hl7_processor: Any = None) -> FastAPI:
    """The browser application (mount it at /app); ``documents``: the API's document tools (printing);
    ``hl7_processor``: the API's inbound pipeline (re-runs of quarantined messages)."""
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    secret, shared = cookie_secret(settings.web.session_secret, settings.auth.secret,
                                   settings.web.oidc_client_secret)
    if not shared:
        log.warning("IDENTITO_WEB__SESSION_SECRET is not set: this process signs its session cookies with "
                    "a key of its own; with several processes, set it to the same value in each")
    store = SessionStore(secret, ctx=ctx, idle_seconds=settings.web.session_idle_minutes * 60,
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
    web.add_middleware(FormEcho)
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

    web.add_exception_handler(DatabaseUnavailable, unavailable_page)
    web.add_exception_handler(OperationalError, unavailable_page)

    @web.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> Response:
        # Answered by the outermost middleware, outside the session middleware: its headers are
        # added here. The reference ties the agent's report to the log line (which holds no trait).
        reference = secrets.token_hex(4)
        log.error("unexpected error on %s %s (reference %s)", request.method, request.url.path, reference,
                  exc_info=exc)
        try:
            response = page(request, 500, words("unexpected", reference=reference))
        except Exception:  # noqa: BLE001 - the page itself failed (no session): a plain line still helps
            response = Response(words("unexpected", reference=reference), status_code=500,
                                media_type="text/plain; charset=utf-8")
        return _no_store(response)
