"""The OpenAPI document of the FHIR interface, served at ``GET /fhir/openapi.json``.

Written by hand: the routes read their parameters themselves (FHIR names such as ``family:exact``, AND
by repetition, OR by commas), so FastAPI cannot derive them. The document says what the routes
accept and answer (docs/fhir.md); the schema fuzzing of tests/fuzz sends it to every role and checks
every answer against it, and tests/fhir checks that its operations are the routes of the FHIR app.
Paths are relative to the server ``/fhir``. Response bodies are described in FHIR JSON; the XML
media type carries the same resource in FHIR's XML representation (not OpenAPI's XML mapping).
"""

from __future__ import annotations

from typing import Any

from app import __version__
from app.api.fhir.match import MAX_COUNT as MATCH_MAX_COUNT
from app.api.fhir.render import JSON_TYPE, XML_TYPE
from app.api.fhir.search import MAX_COUNT
from app.domain import fhir_codes as fc

JsonDict = dict[str, Any]
FORM_TYPE = "application/x-www-form-urlencoded"
FORMATS = ["json", "xml", "application/fhir+json", "application/fhir+xml", "application/json",
           "application/xml", "text/json", "text/xml"]
_DATE = r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?"
_GENDER = "(male|female|other|unknown)"
_ERRORS = {
    400: "Invalid or unsupported parameter or body (OperationOutcome `invalid`, `not-supported`, "
         "`structure`, `too-costly`, `code-invalid`)",
    401: "No valid bearer token (OperationOutcome `login`)",
    403: "The token's roles do not allow it (`forbidden`); for $ihe-pix also an unknown targetSystem "
         "(`code-invalid`)",
    404: "Not found (`not-found`)",
    406: "Unknown `_format` (`not-supported`)",
    413: "Body larger than 64 kB (`too-long`)",
    429: "Too many refused tokens from this address: retry after the delay (`throttled`)",
    503: "The database is unavailable for the moment: retry (`transient`)",
}


def _ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema: JsonDict) -> JsonDict:
    """A FHIR resource as JSON or XML (``_format``, else ``Accept``)."""
    return {JSON_TYPE: {"schema": schema}, XML_TYPE: {"schema": schema}}


def _errors(*statuses: int) -> JsonDict:
    responses: JsonDict = {}
    for status in statuses:
        response: JsonDict = {"description": _ERRORS[status], "content": _content(_ref("OperationOutcome"))}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
        if status == 429:
            response["headers"] = {"Retry-After": {"required": True, "schema": {"type": "string"}}}
        responses[str(status)] = response
    return responses


def _query(name: str, schema: JsonDict, description: str, *, required: bool = False) -> JsonDict:
    parameter: JsonDict = {"name": name, "in": "query", "required": required, "schema": schema,
                           "description": description}
    if schema.get("type") == "array":
        parameter.update(style="form", explode=True)
    return parameter


def _repeated(item: JsonDict) -> JsonDict:
    """A search parameter that may repeat (AND); commas inside one value are OR."""
    return {"type": "array", "items": {"type": "string", "minLength": 1, **item}}


def _list_of(pattern: str) -> JsonDict:
    return {"pattern": f"^{pattern}(,{pattern})*$"}


FORMAT = _query("_format", {"type": "string", "enum": FORMATS},
                "Response format; wins over Accept (application/fhir+json or application/fhir+xml)")
SEARCH: dict[str, tuple[JsonDict, str]] = {
    "_id": (_repeated(_list_of("[0-9]+")), "Logical ids (identity ids); OR with commas"),
    "active": (_repeated(_list_of("(true|false)")),
               "false: identities merged into another (found by _id or identifier only)"),
    "family": (_repeated({}), "Birth name or used name, starts with (accents, case, hyphens, apostrophes "
                              "and spaces ignored)"),
    "family:exact": (_repeated({}), "The whole birth name or used name (same normalisation)"),
    "given": (_repeated({}), "Any birth first name or the used first name, starts with"),
    "given:exact": (_repeated({}), "One whole first name, the whole list, or the used first name"),
    "birthdate": (_repeated(_list_of(f"(eq)?{_DATE}")), "YYYY, YYYY-MM or YYYY-MM-DD; prefix eq only"),
    "gender": (_repeated(_list_of(_GENDER)), "male, female, unknown (other finds nobody)"),
    "identifier": (_repeated({}), "system|value (the IPP: urn:oid:<IPP OID>; the INS: QUAL identities "
                                  "only), value alone, or system| alone: the domain filter"),
}
PAGING: dict[str, tuple[JsonDict, str]] = {
    "_count": ({"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
               f"Page size (default 20, at most {MAX_COUNT}); 0: the total only"),
    "_offset": ({"type": "integer", "minimum": 0, "maximum": 100_000}, "Set by the next and previous links"),
    "_total": ({"type": "string", "enum": ["none", "estimate", "accurate"]},
               "none: no Bundle.total (saves counting every match)"),
}
PREFER = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
          "description": "handling=lenient: unsupported parameters are ignored (and left out of the self "
                         "link) instead of refused"}


def _schemas() -> JsonDict:
    coding = {"type": "object", "properties": {"system": {"type": "string"}, "code": {"type": "string"}}}
    identifier = {"type": "object", "required": ["system", "value"], "properties": {
        "use": {"type": "string", "enum": ["usual", "official", "old"]},
        "type": {"type": "object", "properties": {"coding": {"type": "array", "items": coding}}},
        "system": {"type": "string"}, "value": {"type": "string", "minLength": 1}}}
    name = {"type": "object", "properties": {
        "use": {"type": "string", "enum": ["official", "usual"]}, "family": {"type": "string"},
        "given": {"type": "array", "items": {"type": "string"}},
        "extension": {"type": "array", "items": {"type": "object"}}}}
    patient = {
        "type": "object", "description": "A FR Core Patient (fr-core-patient, fr-core-patient-ins when "
                                         "the INS is shown: QUAL identities only)",
        "required": ["resourceType", "id", "meta", "identifier", "active", "name", "gender", "birthDate"],
        "properties": {
            "resourceType": {"const": "Patient"}, "id": {"type": "string", "pattern": "^[0-9]+$"},
            "meta": {"type": "object", "required": ["versionId", "profile"], "properties": {
                "versionId": {"type": "string"}, "profile": {"type": "array", "items": {"type": "string"}}}},
            "extension": {"type": "array", "items": {"type": "object", "required": ["url"]}},
            "identifier": {"type": "array", "minItems": 1, "items": identifier},
            "active": {"type": "boolean"},
            "name": {"type": "array", "minItems": 1, "items": name},
            "gender": {"type": "string", "enum": list(fc.SEX_OF_GENDER)},
            "birthDate": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "link": {"type": "array", "items": {
                "type": "object", "required": ["other", "type"], "properties": {
                    "other": {"type": "object", "required": ["reference"]},
                    "type": {"type": "string", "enum": ["replaced-by", "seealso"]}}}},
        },
    }
    entry = {"type": "object", "required": ["fullUrl", "resource", "search"], "properties": {
        "fullUrl": {"type": "string"}, "resource": _ref("Patient"),
        "search": {"type": "object", "required": ["mode"], "properties": {
            "mode": {"type": "string", "enum": ["match", "include"]},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "extension": {"type": "array", "items": {"type": "object", "required": ["url", "valueCode"],
                                                     "properties": {"valueCode": {"enum": [
                                                         "certain", "probable", "possible"]}}}}}}}}
    bundle = {
        "type": "object", "description": "A searchset Bundle (total absent with _total=none)",
        "required": ["resourceType", "type"],
        "properties": {
            "resourceType": {"const": "Bundle"}, "type": {"const": "searchset"},
            "total": {"type": "integer", "minimum": 0},
            "link": {"type": "array", "items": {
                "type": "object", "required": ["relation", "url"], "properties": {
                    "relation": {"type": "string", "enum": ["self", "next", "previous"]},
                    "url": {"type": "string"}}}},
            "entry": {"type": "array", "minItems": 1, "items": entry},
        },
    }
    parameters = {
        "type": "object", "description": "ITI-83 result: targetIdentifier and targetId parameters",
        "required": ["resourceType"],
        "properties": {"resourceType": {"const": "Parameters"}, "parameter": {
            "type": "array", "minItems": 1, "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string", "enum": ["targetIdentifier", "targetId"]},
                "valueIdentifier": identifier,
                "valueReference": {"type": "object", "required": ["reference"], "properties": {
                    "reference": {"type": "string", "pattern": "^Patient/[0-9]+$"}}}}}}},
    }
    capability = {
        "type": "object", "required": ["resourceType", "status", "kind", "fhirVersion", "format", "rest"],
        "properties": {"resourceType": {"const": "CapabilityStatement"}, "fhirVersion": {"const": "4.0.1"},
                       "status": {"type": "string"}, "kind": {"type": "string"},
                       "format": {"type": "array", "items": {"type": "string"}},
                       "rest": {"type": "array", "items": {"type": "object"}}},
    }
    outcome = {
        "type": "object", "description": "The error: diagnostics in the configured language (French or "
                                         "English), Identito's stable code in details (urn:identito:problem)",
        "required": ["resourceType", "issue"],
        "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {
            "type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["severity", "code", "diagnostics"], "properties": {
                    "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"}, "diagnostics": {"type": "string", "minLength": 1},
                    "details": {"type": "object",
                                "properties": {"coding": {"type": "array", "items": coding}}},
                }}}},
    }
    return {"Patient": patient, "Bundle": bundle, "Parameters": parameters,
            "CapabilityStatement": capability, "OperationOutcome": outcome,
            "PatientInput": _patient_input(), "MatchParameters": _match_parameters()}


def _patient_input() -> JsonDict:
    """A Patient as $match reads it (other elements are allowed and not used)."""
    name = {"type": "object", "properties": {
        "use": {"type": "string", "enum": ["official", "usual"]},
        "family": {"type": "string", "minLength": 1},
        "given": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "extension": {"type": "array", "items": {"type": "object", "required": ["url", "valueString"],
                                                 "properties": {"url": {"const": fc.EXT_BIRTH_LIST_GIVEN},
                                                                "valueString": {"type": "string"}}}}}}
    return {
        "type": "object", "description": "An official (or unnamed-use) name with family and given (or the "
                                         "birth-list-given-name extension), birthDate and gender; a usual "
                                         "name and the birth place extension are used when present",
        "required": ["resourceType", "name", "birthDate", "gender"],
        "properties": {
            "resourceType": {"const": "Patient"},
            "name": {"type": "array", "minItems": 1, "items": name},
            "birthDate": {"type": "string", "pattern": f"^{_DATE}$"},
            "gender": {"type": "string", "enum": ["male", "female", "other", "unknown"]},
            "extension": {"type": "array", "items": {"type": "object", "required": ["url"]}},
        },
    }


def _match_parameters() -> JsonDict:
    """IHE.PDQm.MatchParametersIn: resource (required), onlyCertainMatches, count."""
    return {
        "type": "object", "required": ["resourceType", "parameter"],
        "properties": {"resourceType": {"const": "Parameters"}, "parameter": {
            "type": "array", "minItems": 1, "items": {"oneOf": [
                {"type": "object", "required": ["name", "resource"], "additionalProperties": False,
                 "properties": {"name": {"const": "resource"}, "resource": _ref("PatientInput")}},
                {"type": "object", "required": ["name", "valueBoolean"], "additionalProperties": False,
                 "properties": {"name": {"const": "onlyCertainMatches"},
                                "valueBoolean": {"type": "boolean"}}},
                {"type": "object", "required": ["name", "valueInteger"], "additionalProperties": False,
                 "properties": {"name": {"const": "count"}, "valueInteger": {
                     "type": "integer", "minimum": 1, "maximum": MATCH_MAX_COUNT}}},
            ]}}},
    }


def _search_operation(summary: str, post: bool) -> JsonDict:
    auth = (401, 403, 429)
    operation: JsonDict = {
        "summary": summary, "security": [{"bearer": []}], "tags": ["PDQm"],
        "responses": {"200": {"description": "The matching Patients, in name order, paged",
                              "content": _content(_ref("Bundle"))},
                      **_errors(400, *auth, 404, 406, 503)},
    }
    search = [_query(n, s, d) for n, (s, d) in SEARCH.items()]
    paging = [_query(n, s, d) for n, (s, d) in PAGING.items()]
    if post:
        properties = {n: {**s, "description": d} for n, (s, d) in {**SEARCH, **PAGING}.items()}
        operation["parameters"] = [FORMAT, PREFER]
        operation["requestBody"] = {"required": False, "content": {FORM_TYPE: {"schema": {
            "type": "object", "properties": properties}}}}
    else:
        operation["parameters"] = [*search, *paging, FORMAT, PREFER]
    return operation


def fhir_openapi(ipp_oid: str) -> JsonDict:
    """The document (paths relative to ``/fhir``)."""
    auth = (401, 403, 429)
    ipp = f"urn:oid:{ipp_oid}"
    paths: JsonDict = {
        "/metadata": {"get": {
            "summary": "CapabilityStatement (no token)", "tags": ["metadata"], "parameters": [FORMAT],
            "responses": {"200": {"description": "What this server supports",
                                  "content": _content(_ref("CapabilityStatement"))}, **_errors(406)},
        }},
        "/Patient": {"get": _search_operation("ITI-78 search (AND by repetition, OR by commas)", False)},
        "/Patient/_search": {"post": _search_operation(
            "ITI-78 search by POST: the same parameters in a form body", True)},
        "/Patient/{patient_id}": {"get": {
            "summary": "ITI-78 read (a merged identity reads inactive, replaced-by its survivor)",
            "security": [{"bearer": []}], "tags": ["PDQm"],
            "parameters": [{"name": "patient_id", "in": "path", "required": True,
                            "schema": {"type": "string"}, "description": "Logical id (the identity id)"},
                           FORMAT],
            "responses": {"200": {"description": "The Patient", "content": _content(_ref("Patient")),
                                  "headers": {"ETag": {"required": True, "schema": {"type": "string"},
                                                       "description": 'W/"<version>"'}}},
                          **_errors(*auth, 404, 406, 503)},
        }},
        "/Patient/$match": {"post": {
            "summary": "ITI-119 $match: the identities that may be the person described, most likely first",
            "security": [{"bearer": []}], "tags": ["PDQm"], "parameters": [FORMAT],
            "requestBody": {"required": True, "content": _content(
                {"oneOf": [_ref("MatchParameters"), _ref("PatientInput")]})},
            "responses": {"200": {"description": "A searchset Bundle: score and match-grade on each entry",
                                  "content": _content(_ref("Bundle"))},
                          **_errors(400, *auth, 406, 413, 503)},
        }},
        "/Patient/$ihe-pix": {"get": {
            "summary": "ITI-83 $ihe-pix: the other identifiers of the person a source identifier names",
            "security": [{"bearer": []}], "tags": ["PIXm"],
            "parameters": [
                _query("sourceIdentifier", {"type": "string", "pattern": "^[^|]+[|].+$"},
                       f"system|value: an IPP ({ipp}|...), an INS of a QUAL Patient, or "
                       "<FHIR base>|Patient/<id>", required=True),
                _query("targetSystem", {"type": "array", "items": {"type": "string", "minLength": 1}},
                       f"Only these domains ({ipp}, an INS OID, or the FHIR base for targetId); "
                       "OR with commas"),
                FORMAT],
            "responses": {"200": {"description": "targetIdentifier per identifier, targetId per open Patient",
                                  "content": _content(_ref("Parameters"))},
                          **_errors(400, *auth, 404, 406, 503)},
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Identito FHIR", "version": __version__,
                 "description": "FHIR R4 (4.0.1), FR Core, IHE PDQm (ITI-78, ITI-119) and PIXm (ITI-83), "
                                "read-only. Every error is an OperationOutcome. See docs/fhir.md and "
                                "GET /fhir/metadata."},
        "servers": [{"url": "/fhir"}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
