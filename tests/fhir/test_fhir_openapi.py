"""The OpenAPI document of the FHIR interface (``GET /fhir/openapi.json``): valid OpenAPI 3.1, one
operation per FHIR route, the search parameters the CapabilityStatement names. Its answers are checked
against it by the schema fuzzing (tests/fuzz/test_fhir_fuzz.py)."""

from __future__ import annotations

import httpx
import schemathesis

from app.api.fhir.capability import capability_statement
from app.main import create_app
from tests.security.matrix import endpoints


def test_the_document_describes_every_fhir_route(live, settings) -> None:
    response = httpx.get(f"{live.base}/fhir/openapi.json")  # no token: it holds no patient data
    assert response.status_code == 200
    document = response.json()
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.1 meta-schema
    assert document["servers"] == [{"url": "/fhir"}]
    described = {(method.upper(), "/fhir" + path) for path, ops in document["paths"].items()
                 for method in ops}
    routes = {(method, path) for method, path in endpoints(create_app(settings)) if path.startswith("/fhir")}
    assert described == routes
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                assert set(answer["content"]) == {"application/fhir+json", "application/fhir+xml"}, (
                    method, path, status)


def test_the_search_parameters_are_those_of_the_capability_statement(live, settings) -> None:
    document = httpx.get(f"{live.base}/fhir/openapi.json").json()
    (resource,) = capability_statement(settings.ipp_oid, live.base)["rest"][0]["resource"]
    supported = {p["name"] for p in resource["searchParam"]}
    control = {"_count", "_offset", "_total", "_format"}
    exact = {"family:exact", "given:exact"}
    get = {p["name"] for p in document["paths"]["/Patient"]["get"]["parameters"] if p["in"] == "query"}
    assert get == supported | control | exact
    post = document["paths"]["/Patient/_search"]["post"]
    form = set(post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"])
    assert form == supported | exact | {"_count", "_offset", "_total"}
    assert {p["name"] for p in post["parameters"]} == {"_format", "Prefer"}
