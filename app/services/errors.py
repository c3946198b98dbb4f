"""Errors raised by the use cases (translated to HTTP once, in app/api/errors.py)."""

from __future__ import annotations

from app.domain.errors import DomainError
from app.domain.messages import register


class NotFound(DomainError):
    """The identity (or its document) does not exist."""

    code = "not-found"


class Conflict(DomainError):
    """The request conflicts with stored data (IPP taken, INS held by another identity...)."""

    code = "conflict"


class StaleVersion(DomainError):
    """The If-Match version is not the current one."""

    code = "stale-version"


class VersionRequired(DomainError):
    """The request must say which version it modifies (If-Match)."""

    code = "version-required"


class MissingReason(DomainError):
    """A reason is required for this change (demotion, attribute, withdrawal)."""

    code = "reason-required"


register("not-found", "{what} {ident} not found.", "{what} {ident} introuvable.")
register(
    "ipp-exists",
    "The local id (IPP) {ipp} is already used by another identity.",
    "L'identifiant local (IPP) {ipp} est déjà utilisé par une autre identité.",
)
register(
    "stale-version",
    "The identity changed since you read it (current version {current}): reload it and try again.",
    "L'identité a été modifiée depuis votre lecture (version actuelle {current}) : rechargez-la puis recommencez.",
)
register(
    "version-required",
    "Send the If-Match header with the version you read.",
    "Envoyez l'en-tête If-Match avec la version lue.",
)
register(
    "reason-required",
    "A reason is required for this change ({why}).",
    "Un motif est obligatoire pour cette modification ({why}).",
)
register(
    "ins-held-elsewhere",
    "This INS is already the active INS of identity {other}: possible duplicate or collision.",
    "Cet INS est déjà l'INS actif de l'identité {other} : doublon ou collision possible.",
)
