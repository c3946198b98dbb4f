"""The FHIR interface, mounted at ``/fhir``: its own small application so that every error under it is
an OperationOutcome (the REST API answers problem+json). Same token verifier, settings and service
context as the REST API; read-only."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.auth import AuthError, TokenVerifier
from app.api.errors import status_for
from app.api.fhir import routes
from app.api.fhir.errors import FhirError, outcome
from app.api.fhir.openapi import fhir_openapi
from app.api.fhir.render import fhir_response, negotiate
from app.config import Settings
from app.db.errors import DatabaseUnavailable
from app.domain.errors import DomainError, InvalidTrait
from app.domain.messages import render
from app.services.context import ServiceContext
from app.services.fhir import TooManyResults

log = logging.getLogger("identito.fhir")
ISSUE_OF_STATUS = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                   406: "not-supported", 409: "conflict", 412: "conflict", 415: "not-supported",
                   422: "processing", 429: "throttled", 503: "transient"}


def create_fhir_app(settings: Settings, ctx: ServiceContext, verifier: TokenVerifier) -> FastAPI:
    """The /fhir application (mounted by the composition root)."""
    app = FastAPI(title="Identito FHIR", openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    document = fhir_openapi(settings.ipp_oid)  # written by hand: the routes read FHIR parameters themselves
    app.openapi = lambda: document  # type: ignore[method-assign]  # served at /fhir/openapi.json
    app.state.settings = settings
    app.state.ctx = ctx
    app.state.verifier = verifier
    app.include_router(routes.router)
    _install_handlers(app)
    return app


def _error(request: Request, status: int, issue: str, diagnostics: str, *, severity: str = "error",
           code: str | None = None, retry_after: int | None = None) -> Response:
    try:
        fmt = negotiate(request)
    except FhirError:
        fmt = "json"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return fhir_response(outcome(severity, issue, diagnostics, code=code), fmt, status, headers)


def _language(request: Request) -> str:
    return str(request.app.state.settings.language)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(FhirError)
    def _fhir(request: Request, exc: FhirError) -> Response:
        return _error(request, exc.status, exc.issue, exc.message(_language(request)), severity=exc.severity,
                      code=exc.key)

    @app.exception_handler(DomainError)
    @app.exception_handler(AuthError)
    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(OperationalError)
    @app.exception_handler(Exception)
    def _any(request: Request, exc: Exception) -> Response:
        language = _language(request)
        if isinstance(exc, TooManyResults):
            return _error(request, 400, "too-costly", exc.message(language), code=exc.code)
        if isinstance(exc, (DatabaseUnavailable, OperationalError)):
            text = render("fhir-database-unavailable", language)
            return _error(request, 503, "transient", text, code="database-unavailable")
        status = status_for(exc)
        if status is None:
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
            text = render("internal-error", language)
            return _error(request, 500, "exception", text, code="internal-error")
        if isinstance(exc, InvalidTrait):
            status = 400  # a search or $match value: FHIR answers 400
        message = exc.message(language) if isinstance(exc, DomainError) else str(exc)
        return _error(request, status, ISSUE_OF_STATUS.get(status, "processing"), message,
                      code=getattr(exc, "code", None), retry_after=getattr(exc, "retry_after", None))

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> Response:
        text = render("invalid-request", _language(request))
        return _error(request, 400, "invalid", text, code="invalid-request")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = f"http-{exc.status_code}"
        text = render(code, _language(request)) if _language(request) == "fr" else str(exc.detail)
        issue = ISSUE_OF_STATUS.get(exc.status_code, "processing")
        return _error(request, exc.status_code, issue, text, code=code)


