"""The single table that translates typed errors into RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import security_headers
from app.api.auth import AuthError
from app.api.auth_failures import TooManyFailures
from app.api.duplicate_schemas import CandidateRead
from app.api.validation import validation_errors
from app.db.errors import DatabaseUnavailable, InvalidValue
from app.domain.cover_page import DocumentRejected, DocumentTooLarge
from app.domain.datamatrix import InvalidPayload
from app.domain.errors import DomainError, InvalidTrait, NotAllowed, RuleViolation
from app.domain.insi import (
    InsiConfigurationError,
    InsiError,
    InsiTechnicalError,
    InsiTimeout,
    InsiTlsError,
    InsiUnavailable,
)
from app.domain.messages import MESSAGES, register, render
from app.services.errors import (
    Conflict,
    InvalidRequest,
    MissingReason,
    NotFound,
    ProbableDuplicate,
    StaleVersion,
    VersionRequired,
)

log = logging.getLogger("identito.api")
register("internal-error", "Unexpected error; the incident was logged.",
         "Erreur inattendue ; l'incident a été journalisé.")
register("invalid-request", "The request is invalid.", "La requête est invalide.")
register("http-400", "There was an error parsing the body",
         "Le contenu de la requête est illisible (JSON mal formé ou encodage invalide).")
register("http-404", "Not Found", "Aucune ressource à cette adresse.")
register("http-405", "Method Not Allowed", "Méthode non autorisée à cette adresse.")
PROBLEM_BASE = "urn:identito:problem:"
MEDIA_TYPE = "application/problem+json"

# Most specific first. Other layers' errors are added here (and only here).
ERROR_TABLE: list[tuple[type[Exception], int]] = [
    (AuthError, 401),
    (TooManyFailures, 429),
    (NotAllowed, 403),
    (NotFound, 404),
    (StaleVersion, 412),
    (VersionRequired, 428),
    (MissingReason, 422),
    (InvalidRequest, 422),
    (InvalidTrait, 422),
    (DocumentTooLarge, 413),
    (DocumentRejected, 422),
    (InvalidPayload, 422),
    (Conflict, 409),
    (RuleViolation, 409),
    # INSi: never "not found"; the body says whether to retry (category, retryable).
    (InsiTimeout, 504),
    (InsiUnavailable, 503),
    (InsiTlsError, 502),
    (InsiConfigurationError, 502),
    (InsiTechnicalError, 502),
    (InsiError, 502),
]

TITLES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "Requête invalide"),
    401: ("Authentication required", "Authentification requise"),
    403: ("Forbidden", "Action non autorisée"),
    404: ("Not found", "Introuvable"),
    405: ("Method not allowed", "Méthode non autorisée"),
    409: ("Conflict with the current state", "Conflit avec l'état actuel"),
    412: ("Stale version", "Version périmée"),
    413: ("Payload too large", "Contenu trop volumineux"),
    415: ("Unsupported media type", "Type de contenu non pris en charge"),
    422: ("Invalid data", "Données invalides"),
    428: ("Version required", "Version requise"),
    429: ("Too many requests", "Trop de requêtes"),
    500: ("Internal error", "Erreur interne"),
    502: ("Upstream service error", "Erreur du service distant"),
    503: ("Service unavailable", "Service indisponible"),
    504: ("Upstream timeout", "Délai dépassé auprès du service distant"),
}


_RULES = ("Conflict with the identitovigilance rules", "Conflit avec les règles d'identitovigilance")
_STATE = ("Not possible in the current state", "Impossible dans l'état actuel")
_PROPOSAL = ("INSi proposal no longer usable", "Proposition INSi plus utilisable")
_SUBSCRIBER = ("Subscriber settings refused", "Paramétrage de l'abonné refusé")

# 409 titles by error code: each kind of conflict says what it is. A rule violation not listed
# here is an identitovigilance rule conflict; any other conflict, one with the current state.
CONFLICT_TITLES: dict[str, tuple[str, str]] = {
    "ipp-exists": ("Local identifier already used", "Identifiant local déjà utilisé"),
    "ins-held-elsewhere": ("INS held by another identity", "INS détenu par une autre identité"),
    "hl7-conflict": ("Conflict with stored identities", "Conflit avec les identités enregistrées"),
    "subscriber-exists": ("Subscriber already exists", "Abonné déjà existant"),
    "subscriber-events": _SUBSCRIBER,
    "subscriber-charset": _SUBSCRIBER,
    "subscriber-already-ins-ready": ("Subscriber already INS-ready", "Abonné déjà compatible INS"),
    "dead-letter-state": ("Message not in dead letter", "Message hors lettre morte"),
    "quarantine-closed": ("Quarantined message already closed", "Message en quarantaine déjà traité"),
    "campaign-transition": ("Campaign state does not allow it", "État de la campagne incompatible"),
    "proposal-closed": _PROPOSAL,
    "proposal-expired": _PROPOSAL,
    "proposal-stale": _PROPOSAL,
    "identity-inactive": ("Identity merged (deactivated)", "Identité fusionnée (désactivée)"),
    "probable-duplicate": ("Probable duplicate of an existing identity", "Doublon probable d'une identité "
                           "existante"),
    "duplicate-pair-closed": ("Pair already decided", "Paire déjà traitée"),
    "duplicate-scan-busy": ("Scan running elsewhere", "Scan en cours ailleurs"),
    "duplicate-scan-finished": ("Scan already finished", "Scan déjà terminé"),
    "attribute-absent": _STATE,
    "ins-missing": _STATE,
}


def title_for(exc: Exception, status: int, language: str) -> str | None:
    """The title of a typed error when its kind has its own (conflicts), else None."""
    if status != 409:
        return None
    code = getattr(exc, "code", "")
    english, french = CONFLICT_TITLES.get(code, _RULES if isinstance(exc, RuleViolation) else _STATE)
    return french if language == "fr" else english


def status_for(exc: Exception) -> int | None:
    """HTTP status of a typed error, from the table."""
    return next((status for kind, status in ERROR_TABLE if isinstance(exc, kind)), None)


def problem(
    request: Request, status: int, code: str, detail: str, *, title: str | None = None, **extensions: Any
) -> JSONResponse:
    """Build a problem+json response in the configured language."""
    language = request.app.state.settings.language
    english, french = TITLES.get(status, ("Error", "Erreur"))
    body = {
        "type": PROBLEM_BASE + code,
        "title": title or (french if language == "fr" else english),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **{k: v for k, v in extensions.items() if v is not None},
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429 and "retry_after" in extensions:
        headers = {"Retry-After": str(extensions["retry_after"])}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as problem+json."""

    @app.exception_handler(DomainError)
    def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = status_for(exc) or 400
        language = request.app.state.settings.language
        extra: dict[str, Any] = {"field": exc.field, "rule": exc.rule}
        if "survivor" in exc.params:  # a merged identity: where to work instead
            extra["survivor_id"] = exc.params["survivor"]
        if isinstance(exc, StaleVersion):
            extra["current_version"] = exc.params.get("current")
        if "missing_list" in exc.params:  # INS not printable: the status and what it lacks (EXI SI 08)
            extra.update(identity_status=exc.params.get("status"), missing=exc.params["missing_list"])
        if isinstance(exc, ProbableDuplicate):  # what the desk must look at before confirming
            extra["candidates"] = [CandidateRead.of(c, exc.roles).model_dump(mode="json")
                                   for c in exc.candidates]
        if isinstance(exc, TooManyFailures):
            extra["retry_after"] = exc.retry_after
        if isinstance(exc, InsiError):
            extra.update(category=exc.category.value, retryable=exc.retryable,
                         insi_code=exc.detail_code or exc.fault_code, message_id=exc.message_id)
        return problem(request, status, exc.code, exc.message(language),
                       title=title_for(exc, status, language), **extra)

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        language = request.app.state.settings.language
        errors = validation_errors(exc.errors(), language)
        first = errors[0] if errors else {"field": None, "message": render("invalid-request", language)}
        return problem(request, 422, "invalid-request", first["message"], field=first["field"], errors=errors)

    @app.exception_handler(InvalidValue)
    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    def _data(request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the schemas let through (a NUL character in a text, an id
        # beyond the integer range): the transaction was rolled back, nothing was written. SQLite's
        # driver refuses an integer beyond 64 bits with a bare OverflowError, before any SQL runs.
        language = request.app.state.settings.language
        detail = ("Une valeur est invalide pour la base de données (caractère NUL, nombre hors limites)."
                  if language == "fr" else "A value cannot be stored (NUL character, number out of range).")
        return problem(request, 422, "invalid-value", detail)

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(OperationalError)
    def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database cannot be reached, or a pooled connection broke (database restarted): the
        # transaction did not happen; the pool replaces its connections, the request can be retried.
        kind = exc.orig if isinstance(exc, OperationalError) else exc
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(kind).__name__)
        language = request.app.state.settings.language
        detail = ("La base de données est momentanément indisponible ; rien n'a été enregistré, "
                  "réessayez." if language == "fr" else
                  "The database is unavailable for the moment; nothing was written, please retry.")
        response = problem(request, 503, "database-unavailable", detail)
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Raised by the framework itself (no such route, method not allowed): its detail is English.
        language = request.app.state.settings.language
        code = f"http-{exc.status_code}"
        detail = render(code, language) if code in MESSAGES and language == "fr" else str(exc.detail)
        return problem(request, exc.status_code, code, detail)

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        language = request.app.state.settings.language
        status = status_for(exc)
        if status is not None:
            message = exc.message(language) if isinstance(exc, DomainError) else str(exc)
            return problem(request, status, getattr(exc, "code", "error"), message,
                           title=title_for(exc, status, language))
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        response = problem(request, 500, "internal-error", render("internal-error", language))
        https = request.app.state.settings.public_url.startswith("https://")
        return security_headers.add_to_response(response, https=https)
