"""Typed domain errors.

Every error carries a stable ``code`` (used as the problem+json ``type`` suffix), the name of the
field in error when there is one, the RNIV requirement it enforces when there is one, and
parameters for the user-facing message, which is rendered in French or English by
``app.domain.messages``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error raised by the pure domain."""

    code = "domain-error"

    def __init__(
        self,
        code: str | None = None,
        *,
        field: str | None = None,
        rule: str | None = None,
        **params: Any,
    ) -> None:
        if code is not None:
            self.code = code
        self.field = field
        self.rule = rule
        self.params = params
        super().__init__(self.message("en"))

    def message(self, language: str = "en") -> str:
        """Render the user-facing message in the given language."""
        from app.domain.messages import render

        return render(self.code, language, field=self.field, **self.params)


class InvalidTrait(DomainError):
    """A trait fails the RNIV lexical profile or its own format (HTTP 422)."""

    code = "invalid-trait"


class InvalidMatricule(InvalidTrait):
    """A matricule INS or OID is malformed or has a wrong key (HTTP 422)."""

    code = "invalid-matricule"


class RuleViolation(DomainError):
    """An operation would break an RNIV rule or reach a forbidden state (HTTP 409)."""

    code = "rule-violation"


class NotAllowed(DomainError):
    """The actor's role may not perform this operation (HTTP 403)."""

    code = "not-allowed"


class MissingReason(DomainError):
    """A reason is required for this change (demotion, attribute, withdrawal...) (HTTP 422)."""

    code = "reason-required"
