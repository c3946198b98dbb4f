"""FHIR JSON and XML: format negotiation (``_format``, then ``Accept``) and serialisation.

JSON is written from plain dicts (by pydantic's serialiser); XML goes through the
``fhir.resources`` R4B models, which also check the resource on the way out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fhir.resources.R4B import get_fhir_model_class
from pydantic_core import to_json

from app.api.fhir.errors import FhirError

JSON_TYPE = "application/fhir+json"
XML_TYPE = "application/fhir+xml"
_FORMATS = {
    "json": "json", "application/json": "json", "application/fhir+json": "json", "text/json": "json",
    "xml": "xml", "application/xml": "xml", "application/fhir+xml": "xml", "text/xml": "xml",
}


def negotiate(request: Request) -> str:
    """``json`` or ``xml``: ``_format`` wins over ``Accept``; an unknown ``_format`` is a 406."""
    wanted = request.query_params.get("_format")
    if wanted is not None:
        found = _FORMATS.get(wanted.strip().lower().split(";")[0].replace(" ", "+"))
        if found is None:
            raise FhirError(406, "not-supported", "fhir-format-unsupported", value=wanted[:40])
        return found
    accept = request.headers.get("accept", "").lower()
    kinds = [part.split(";")[0].strip() for part in accept.split(",") if part.strip()]
    return next((_FORMATS[k] for k in kinds if k in _FORMATS), "json")


# What XML 1.0 cannot carry (control characters, surrogates, U+FFFE/U+FFFF): a client's value echoed in
# an OperationOutcome may hold them; JSON escapes them, XML gets U+FFFD in their place.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(value: Any) -> Any:
    if isinstance(value, str):
        return _NOT_XML.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: _xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_safe(v) for v in value]
    return value


def fhir_response(resource: dict[str, Any], fmt: str, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """A resource as FHIR JSON or XML."""
    if fmt == "xml":
        model = get_fhir_model_class(resource["resourceType"]).model_validate(_xml_safe(resource))
        body = model.model_dump_xml()
        return Response(body, status_code=status, media_type=XML_TYPE + "; charset=utf-8", headers=headers)
    # pydantic's serialiser writes the bytes that json.dumps(ensure_ascii=False, separators=(",", ":"))
    # wrote (compact, UTF-8, the same escapes; $match scores, rounded to 4 decimals, print alike), in
    # a third of the time for a page of Patients.
    body = to_json(resource)
    return Response(body, status_code=status, media_type=JSON_TYPE + "; charset=utf-8", headers=headers)


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A resource posted as FHIR JSON or XML, as a plain dict; 400 when it is not one."""
    try:
        if "xml" in content_type.lower():
            text = raw.decode("utf-8")
            if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():  # no entity ever: XXE, expansion
                raise ValueError("DOCTYPE")
            root = text[text.find("<", text.find("?>") + 1 if text.lstrip().startswith("<?") else 0):]
            kind = root[1:].split(" ", 1)[0].split(">", 1)[0].split(":")[-1]
            model = get_fhir_model_class(kind).model_validate_xml(raw)
            data: Any = json.loads(model.model_dump_json())
        else:
            data = json.loads(raw)
            # A lone surrogate ("\\ud800") is valid JSON but no text: refused here, before it is echoed.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, KeyError, TypeError, RecursionError, SyntaxError) as exc:  # lxml's are SyntaxErrors
        raise FhirError(400, "structure", "fhir-body-invalid", why=type(exc).__name__) from None
    if not isinstance(data, dict) or "resourceType" not in data:
        raise FhirError(400, "structure", "fhir-body-invalid", why="resourceType")
    return data
