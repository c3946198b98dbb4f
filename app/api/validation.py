"""Request validation errors (pydantic) as messages in the configured language.

Pydantic writes its messages in English ("Field required", "Extra inputs are not permitted",
"JSON decode error"); each error type it reports is rendered here from the bilingual catalogue
instead, naming the field by its label ("nom de naissance : champ obligatoire.").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.messages import register, register_terms, render

# pydantic error type -> our message code (several types share a message).
_KINDS: dict[str, str] = {
    "missing": "missing",
    "extra_forbidden": "extra",
    "json_invalid": "json",
    "json_type": "json",
    "string_type": "text",
    "string_unicode": "text",
    "string_sub_type": "text",
    "string_too_short": "text-short",
    "string_too_long": "text-long",
    "string_pattern_mismatch": "pattern",
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "int_parsing_size": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "finite_number": "number",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "greater_than": "gt",
    "greater_than_equal": "ge",
    "less_than": "lt",
    "less_than_equal": "le",
    "date_type": "date",
    "date_parsing": "date",
    "date_from_datetime_parsing": "date",
    "date_from_datetime_inexact": "date",
    "datetime_type": "datetime",
    "datetime_parsing": "datetime",
    "datetime_from_date_parsing": "datetime",
    "datetime_object_invalid": "datetime",
    "model_type": "object",
    "model_attributes_type": "object",
    "dict_type": "object",
    "list_type": "list",
    "too_short": "list-short",
    "too_long": "list-long",
    "literal_error": "choice",
    "enum": "choice",
    "uuid_type": "uuid",
    "uuid_parsing": "uuid",
    "value_error": "reason",
    "assertion_error": "reason",
}

for _code, _english, _french in (
    ("missing", "{field}: required.", "{field} : champ obligatoire."),
    ("extra", "{field}: unknown field, not accepted.", "{field} : champ inconnu, non accepté."),
    ("json", "The request body is not valid JSON.", "Le corps de la requête n'est pas un JSON valide."),
    ("text", "{field}: text expected.", "{field} : texte attendu."),
    ("text-short", "{field}: at least {min_length} character(s).",
     "{field} : au moins {min_length} caractère(s)."),
    ("text-long", "{field}: at most {max_length} characters.",
     "{field} : {max_length} caractères au maximum."),
    ("pattern", "{field}: wrong format.", "{field} : format invalide."),
    ("integer", "{field}: whole number expected.", "{field} : nombre entier attendu."),
    ("number", "{field}: number expected.", "{field} : nombre attendu."),
    ("boolean", "{field}: true or false expected.", "{field} : true ou false attendu."),
    ("gt", "{field}: must be greater than {gt}.", "{field} : doit être supérieur à {gt}."),
    ("ge", "{field}: must be {ge} or more.", "{field} : doit être supérieur ou égal à {ge}."),
    ("lt", "{field}: must be less than {lt}.", "{field} : doit être inférieur à {lt}."),
    ("le", "{field}: must be {le} or less.", "{field} : doit être inférieur ou égal à {le}."),
    ("date", "{field}: date expected (YYYY-MM-DD).", "{field} : date attendue (AAAA-MM-JJ)."),
    ("datetime", "{field}: date and time expected (ISO 8601).",
     "{field} : date et heure attendues (ISO 8601)."),
    ("object", "{field}: JSON object expected.", "{field} : objet JSON attendu."),
    ("list", "{field}: list expected.", "{field} : liste attendue."),
    ("list-short", "{field}: at least {min_length} item(s).", "{field} : au moins {min_length} élément(s)."),
    ("list-long", "{field}: at most {max_length} items.", "{field} : {max_length} éléments au maximum."),
    ("choice", "{field}: expected one of {expected}.", "{field} : valeur attendue parmi {expected}."),
    ("uuid", "{field}: identifier (UUID) expected.", "{field} : identifiant (UUID) attendu."),
    ("reason", "{field}: {reason}.", "{field} : {reason}."),
    ("other", "{field}: {english}.", "{field} : valeur invalide."),
):
    register("request-" + _code, _english, _french)

# Reasons that the request models' own validators give (value_error).
register_terms({"send either traits or vitale": "envoyez soit traits, soit vitale"})


def _field_path(loc: Sequence[Any]) -> str:
    """Where the error is, as the API has always named it: "birth_name", "query.limit"."""
    return ".".join(str(part) for part in loc if part != "body")


def _field_name(loc: Sequence[Any]) -> str:
    """The innermost named field ("body" for the request body itself), for its label."""
    names = [part for part in loc if isinstance(part, str) and part not in ("query", "header", "path")]
    return names[-1] if names else "body"


def _params(kind: str, error: dict[str, Any]) -> dict[str, Any]:
    context = dict(error.get("ctx") or {})
    if kind == "choice":
        context["expected"] = str(context.get("expected", "")).replace(" or ", ", ")
    if kind == "reason":
        context["reason"] = str(context.get("error", error.get("msg", ""))).removeprefix("Value error, ")
    context["english"] = str(error.get("msg", "")).rstrip(".")
    return context


def validation_errors(errors: Sequence[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """Each validation error as {"field", "message"}, the message in the language."""
    rendered = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        kind = _KINDS.get(str(error.get("type")), "other")
        message = render("request-" + kind, language, field=_field_name(loc), **_params(kind, error))
        path = None if kind == "json" else (_field_path(loc) or None)
        rendered.append({"field": path, "message": message})
    return rendered
