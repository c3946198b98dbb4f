"""The command line's error boundary: one line on stderr and an exit code, never a traceback.

Every `identito` command runs inside ``run_cli``. A refused use case, a missing file, a bad date
or id, an unreachable database or an unknown migration ends with one line, in the settings'
language (French by default, and before the settings are read), and an exit code: 2 unusable
input, 3 refused by an identity rule, 4 not found, 1 anything else. Lines name files, options and
error codes, never patient traits. A traceback is shown only at ``IDENTITO_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import errno
import logging
import re
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import typer

from app.domain.errors import DomainError, InvalidTrait, NotAllowed, RuleViolation
from app.domain.messages import register, render

if TYPE_CHECKING:
    from app.demo_settings import DemoFile

EXIT_FAILED, EXIT_INPUT, EXIT_RULE, EXIT_NOT_FOUND = 1, 2, 3, 4
_state = {"language": "fr"}

for _code, _en, _fr in (
    ("cli-refused", "Refused ({error_code}): {message}", "Refusé ({error_code}) : {message}"),
    ("cli-file", "'{path}': {reason}.", "« {path} » : {reason}."),
    ("cli-bad-date", "Invalid date for {option}: '{value}' (expected YYYY-MM-DD).",
     "Date invalide pour {option} : « {value} » (attendu AAAA-MM-JJ)."),
    ("cli-bad-ids", "Invalid ids for {option}: '{value}' (whole numbers separated by commas).",
     "Identifiants invalides pour {option} : « {value} » (nombres entiers séparés par des virgules)."),
    ("cli-bad-value", "Invalid value for {param} (help: {command} --help).",
     "Valeur invalide pour {param} (aide : {command} --help)."),
    ("cli-missing", "Missing {param} (help: {command} --help).",
     "Paramètre manquant : {param} (aide : {command} --help)."),
    ("cli-no-option", "Unknown option {param} (help: {command} --help).",
     "Option inconnue : {param} (aide : {command} --help)."),
    ("cli-no-command", "Unknown command {param} (help: identito --help).",
     "Commande inconnue : {param} (aide : identito --help)."),
    ("cli-usage", "Malformed command: {detail} (help: {command} --help).",
     "Commande mal formée : {detail} (aide : {command} --help)."),
    ("cli-aborted", "Interrupted.", "Interrompu."),
    ("cli-system", "System error: {reason}.", "Erreur système : {reason}."),
    ("cli-database", "The database cannot be reached ({kind}): check IDENTITO_DATABASE_URL and the server.",
     "Base de données injoignable ({kind}) : vérifiez IDENTITO_DATABASE_URL et le serveur."),
    ("cli-database-url", "IDENTITO_DATABASE_URL is not a usable database URL.",
     "IDENTITO_DATABASE_URL n'est pas une URL de base de données utilisable."),
    ("cli-unexpected", "Unexpected error ({kind}): the command stopped. Run it again with "
     "IDENTITO_LOG_LEVEL=DEBUG for the details.",
     "Erreur inattendue ({kind}) : la commande s'est arrêtée. Relancez-la avec "
     "IDENTITO_LOG_LEVEL=DEBUG pour le détail."),
    ("cli-demo-used", "Using the settings of the running demo from {path} (development; IDENTITO_* "
     "environment variables take precedence).",
     "Réglages de la démo lus dans {path} (développement ; les variables d'environnement IDENTITO_* "
     "l'emportent)."),
    ("cli-demo-permissions", "Demo settings {path} ignored: other users may read or change the file "
     "(chmod 600 {path}).", "Réglages de la démo {path} ignorés : d'autres utilisateurs peuvent lire ou "
     "modifier le fichier (chmod 600 {path})."),
    ("cli-demo-not-development", "Demo settings {path} ignored: the file does not declare "
     "IDENTITO_ENVIRONMENT=development.", "Réglages de la démo {path} ignorés : le fichier ne déclare pas "
     "IDENTITO_ENVIRONMENT=development."),
    ("cli-demo-environment", "Demo settings {path} ignored: IDENTITO_ENVIRONMENT is {environment}.",
     "Réglages de la démo {path} ignorés : IDENTITO_ENVIRONMENT vaut {environment}."),
):
    register(_code, _en, _fr)

# errno -> (English, French) reason of a file error.
_FILE_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOENT: ("no such file or folder", "fichier ou dossier introuvable"),
    errno.EACCES: ("permission denied", "accès refusé"),
    errno.EPERM: ("operation not permitted", "opération non permise"),
    errno.EISDIR: ("this is a folder, a file is expected", "c'est un dossier, un fichier est attendu"),
    errno.ENOTDIR: ("a part of the path is not a folder", "une partie du chemin n'est pas un dossier"),
    errno.ENOSPC: ("no space left on the disk", "disque plein"),
    errno.EROFS: ("read-only file system", "système de fichiers en lecture seule"),
}


def set_language(language: str) -> None:
    """Say the following lines in this language (from the settings, once read)."""
    _state["language"] = language


def say(message_code: str, /, **params: Any) -> None:
    """One line on stderr, in the current language."""
    typer.echo(render(message_code, _state["language"], **params), err=True)


def usage_error(message_code: str, /, **params: Any) -> typer.Exit:
    """Say it and return the exit of unusable input (2), for ``raise``."""
    say(message_code, **params)
    return typer.Exit(EXIT_INPUT)


def file_reason(error: OSError, language: str) -> str:
    """What is wrong with a file, in the language."""
    english, french = _FILE_REASONS.get(error.errno or 0, (error.strerror or type(error).__name__,) * 2)
    return french if language == "fr" else english


def file_error(error: OSError) -> typer.Exit:
    """One line naming the file and what is wrong with it; exit 2."""
    path = error.filename if error.filename is not None else "?"
    return usage_error("cli-file", path=path, reason=file_reason(error, _state["language"]))


def exit_code(error: DomainError) -> int:
    """The exit code of a refused use case."""
    from app.domain.cover_page import DocumentRejected, DocumentTooLarge
    from app.services.errors import NotFound

    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, RuleViolation | NotAllowed):
        return EXIT_RULE
    if isinstance(error, InvalidTrait | DocumentRejected | DocumentTooLarge):
        return EXIT_INPUT
    return EXIT_FAILED


def refused(error: DomainError) -> typer.Exit:
    """Say why the use case refused, return its exit."""
    say("cli-refused", error_code=error.code, message=error.message(_state["language"]))
    return typer.Exit(exit_code(error))


def parse_date(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value, or one line and exit 2."""
    if not value:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise usage_error("cli-bad-date", option=option, value=value[:40])


def parse_ids(value: str | None, option: str) -> tuple[int, ...]:
    """Comma-separated identity ids, or one line and exit 2."""
    if not value:
        return ()
    parts = [part.strip() for part in value.split(",")]
    if not all(part.isdigit() for part in parts):
        raise usage_error("cli-bad-ids", option=option, value=value[:40])
    return tuple(int(part) for part in parts)


def demo_file_notice(demo: DemoFile) -> None:
    """Say that the demo settings file is used, or why it is ignored (one line)."""
    code = "cli-demo-used" if demo.used else f"cli-demo-{demo.reason}"
    say(code, path=str(demo.path), environment=demo.environment)


def run_cli(app: typer.Typer) -> None:
    """Run the command line; every failure ends as one line and an exit code."""
    try:
        code = app(prog_name="identito", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        say("cli-aborted")
        code = EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 (the boundary: a line, never a traceback)
        code = _usage(exc) if _kind(exc, "UsageError") else _failure(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _kind(exc: BaseException, name: str) -> bool:
    """Whether exc is a click exception of that class (typer vendors click: matched by name)."""
    return any(cls.__name__ == name for cls in type(exc).__mro__)


def _usage(exc: Any) -> int:
    """A usage error (bad option value, missing or unknown option) as one line; exit 2."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "identito"
    if _kind(exc, "NoArgsIsHelpError"):
        if exc.format_message():  # the rich help is printed as the error is made
            typer.echo(exc.format_message())
    elif _kind(exc, "BadParameter"):
        param = exc.param_hint or ("/".join(exc.param.opts) if exc.param is not None else "?")
        code = "cli-missing" if _kind(exc, "MissingParameter") else "cli-bad-value"
        say(code, param=param, command=command)
    elif _kind(exc, "NoSuchOption"):
        say("cli-no-option", param=exc.option_name, command=command)
    elif _kind(exc, "NoSuchCommand"):
        say("cli-no-command", param=exc.command_name)
    else:
        say("cli-usage", detail=exc.format_message(), command=command)
    return EXIT_INPUT


def _failure(exc: Exception) -> int:
    """An exception that escaped a command: one line, and its exit code."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from app.db.errors import DatabaseUnavailable

    if isinstance(exc, DomainError):
        return refused(exc).exit_code
    if isinstance(exc, OSError) and exc.filename is not None:
        return file_error(exc).exit_code
    if isinstance(exc, ArgumentError | NoSuchModuleError):
        return usage_error("cli-database-url").exit_code
    if isinstance(exc, DatabaseUnavailable):
        say("cli-database", kind=str(exc) or "DatabaseUnavailable")
    elif isinstance(exc, OperationalError):
        say("cli-database", kind=type(exc.orig).__name__ if exc.orig is not None else "OperationalError")
    elif isinstance(exc, OSError):
        say("cli-system", reason=file_reason(exc, _state["language"]))
    else:
        say("cli-unexpected", kind=type(exc).__name__)
    logging.getLogger("identito").debug("command failed", exc_info=exc)
    return EXIT_FAILED
