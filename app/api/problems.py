"""The error responses of the OpenAPI document: every operation declares the problem documents it can
answer (RFC 9457, ``application/problem+json``), so that a client generated from the document, and
the schema fuzzing of the test suite (tests/fuzz), know them.

The statuses come from the error table (app/api/errors.py). The declarations common to a kind of
operation are derived from the route itself (``declare_problems``); an operation that can answer
more (INSi, documents) says so with ``problem_responses`` in its router.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.api.deps import current_actor, if_match_version

MEDIA_TYPE = "application/problem+json"

# The body of every error response (app/api/errors.py ``problem``); extension members are allowed
# (field, rule, errors, candidates, survivor_id, current_version, category, retryable...).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "urn:identito:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path"},
        "field": {"type": "string", "description": "The field at fault, when one is"},
        "rule": {"type": "string", "description": "The RNIV requirement, when one applies"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "Every invalid field"},
    },
    "additionalProperties": True,
}

DESCRIPTIONS: dict[int, str] = {
    400: "The body cannot be parsed (malformed JSON, invalid encoding)",
    401: "No valid bearer token",
    403: "The token's roles do not allow it",
    404: "No such resource",
    409: "Conflict with the identitovigilance rules or the current state",
    412: "Stale version: the resource changed since it was read (If-Match)",
    413: "Document too large",
    422: "Invalid request (fields, values, rules)",
    428: "If-Match required",
    502: "INSi answered with an error, or cannot be used (configuration, TLS)",
    503: "Database or INSi unavailable for the moment: nothing was written, retry",
    504: "INSi did not answer in time",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of these statuses, each a problem document."""
    return {
        status: {"description": DESCRIPTIONS[status], "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
        for status in statuses
    }


def _calls(dependant: Dependant, function: object) -> bool:
    return any(d.call is function or _calls(d, function) for d in dependant.dependencies)


def statuses_of(route: APIRoute) -> list[int]:
    """The error statuses any operation of this shape can answer."""
    statuses = [422]  # request validation (path, query, headers, body)
    if route.body_field is not None:
        statuses.append(400)  # a body that cannot be parsed (malformed JSON, invalid UTF-8)
    if _calls(route.dependant, current_actor):  # directly or through require_roles
        statuses += [401, 403, 503]
    if "{" in route.path_format:
        statuses.append(404)
    if route.methods & {"POST", "PATCH", "PUT", "DELETE"}:
        statuses.append(409)
    if _calls(route.dependant, if_match_version):
        statuses += [412, 428]
    return statuses


def declare_problems(*routers: APIRouter) -> None:
    """Add the problem responses of each operation of these routers to what it already declares
    (before the routers are included: the application copies their routes). Idempotent."""
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        declared = problem_responses(*statuses_of(route))
        declared.update(route.responses)  # a router's own declaration wins
        # FastAPI documents a 422 of its own shape; ours is a problem document.
        declared[422] = problem_responses(422)[422]
        route.responses = declared
