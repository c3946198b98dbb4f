"""Hostile input the schema fuzzing (tests/fuzz/test_fhir_fuzz.py) found answered with a 500: each is
now a 4xx OperationOutcome (or an answer), on a live server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.fhir.live import ids_of, issue_of

ROUSSEAU: dict[str, Any] = {"resourceType": "Patient", "birthDate": "1980-03-04", "gender": "male",
                            "name": [{"use": "official", "family": "ROUSSEAU", "given": ["JEAN", "PIERRE"]}]}
JSON = {"Content-Type": "application/fhir+json"}


def _match(desk: Any, body: str | bytes, content_type: str = "application/fhir+json") -> Any:
    return desk.post("/Patient/$match", content=body, headers={"Content-Type": content_type})


def test_match_elements_of_the_wrong_type_are_a_400_not_a_500(live, desk) -> None:
    bodies = [
        {"resourceType": "Parameters", "parameter": 5},
        {**ROUSSEAU, "name": 5},
        {**ROUSSEAU, "name": [{"family": ["ROUSSEAU"], "given": ["JEAN"]}]},
        {**ROUSSEAU, "gender": ["male"]},
    ]
    for body in bodies:
        response = _match(desk, json.dumps(body))
        assert response.status_code == 400, body
        assert issue_of(response)["code"] == "invalid", body


def test_match_ignores_malformed_extensions_it_does_not_need(live, desk) -> None:
    """Extensions that are not objects (or hold no object) are not read: the traits still match."""
    names = [{**ROUSSEAU["name"][0], "extension": [[None, None]]}, {"use": "usual", "family": 5}]
    birth_place = {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress": 3}
    coding = {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress": {
        "extension": [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
                       "valueCoding": 5}]}}
    for body in ({**ROUSSEAU, "name": names}, {**ROUSSEAU, "extension": [1, birth_place, coding]}):
        response = _match(desk, json.dumps(body))
        assert response.status_code == 200, response.text
        assert live.people.ids["survivor"] in ids_of(response.json())


def test_match_bodies_no_parser_can_read_are_a_400_structure(live, desk) -> None:
    hostile = [
        ("[" * 5000 + "]" * 5000, "application/fhir+json"),  # deeper than the JSON parser's recursion
        ('{"resourceType": "Patient", "x": ' + "[" * 5000 + "]" * 5000 + "}", "application/fhir+json"),
        # a lone surrogate: valid JSON, but no text
        (json.dumps(ROUSSEAU).replace("ROUSSEAU", "ROUSSEAU\\ud800"), "application/fhir+json"),
        ("<Patient xmlns='http://hl7.org/fhir'><", "application/fhir+xml"),  # malformed XML (lxml)
    ]
    for body, content_type in hostile:
        response = _match(desk, body, content_type)
        assert response.status_code == 400, body[:60]
        assert issue_of(response)["code"] == "structure", body[:60]


def test_numbers_in_other_scripts_are_not_ids_or_counts(live, desk) -> None:
    """``str.isdigit`` takes "¹" and "²", which ``int`` refuses: read them as no number at all."""
    for url in ("/Patient/¹", "/Patient/%C2%B2"):
        response = desk.get(url)
        assert response.status_code == 404 and issue_of(response)["code"] == "not-found"
    for params in ({"_count": "²"}, {"_offset": "¹"}, {"_count": "1" * 5000}):
        response = desk.get("/Patient", params=params)
        assert response.status_code == 400 and issue_of(response)["code"] == "invalid", params
    assert desk.search(_id="²").get("entry") is None
    pix = desk.get("/Patient/$ihe-pix", params={"sourceIdentifier": f"{live.base}/fhir|Patient/¹"})
    assert pix.status_code == 404 and issue_of(pix)["code"] == "not-found"


def test_control_characters_echoed_in_an_xml_outcome(live, desk) -> None:
    """An unsupported parameter's name goes back in the diagnostics; XML cannot carry a control
    character, so it comes back as U+FFFD (JSON escapes it)."""
    get = desk.get("/Patient", params={"bad\x01name": "x", "_format": "xml"})
    post = desk.post("/Patient/_search", params={"_format": "xml"}, data={"bad\x01name": "x"})
    for response in (get, post):
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/fhir+xml")
        outcome = OperationOutcome.model_validate_xml(response.content)
        assert outcome.issue[0].code == "not-supported"
        assert "bad\ufffdname" in outcome.issue[0].diagnostics
    as_json = desk.get("/Patient", params={"bad\x01name": "x"})
    assert "bad\x01name" in issue_of(as_json)["diagnostics"]
