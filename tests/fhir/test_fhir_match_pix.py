"""ITI-119 $match and ITI-83 $ihe-pix over a live server (SQLite and PostgreSQL), and fhirpy as an
independent FHIR client."""

from __future__ import annotations

from typing import Any

from fhirpy import SyncFHIRClient

from tests.conftest import auth
from tests.fhir.live import ids_of, issue_of
from tests.fhir.support import NIR_QUAL, NIR_QUAL_OLD, NIR_RECUP

IPP_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2.999"
NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


def _patient(
    family: str, given: list[str], birth: str, gender: str, place: str | None = None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": given}],
        "birthDate": birth,
        "gender": gender,
    }
    if place:
        coding = {
            "system": "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM",
            "code": place,
        }
        resource["extension"] = [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueAddress": {
                    "extension": [
                        {
                            "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
                            "valueCoding": coding,
                        }
                    ]
                },
            }
        ]
    return resource


def _parameters(patient: dict[str, Any], **extra: Any) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": "resource", "resource": patient}]
    if "only_certain" in extra:
        parameters.append({"name": "onlyCertainMatches", "valueBoolean": extra["only_certain"]})
    if "count" in extra:
        parameters.append({"name": "count", "valueInteger": extra["count"]})
    return {"resourceType": "Parameters", "parameter": parameters}


def _grades(bundle: dict[str, Any]) -> list[tuple[int, str, float]]:
    return [
        (int(e["resource"]["id"]), e["search"]["extension"][0]["valueCode"], e["search"]["score"])
        for e in bundle.get("entry", [])
    ]


ROUSSEAU = _patient("Rousseau", ["Jean", "Pierre"], "1980-03-04", "male", "75112")
TWIN = _patient("MOREAUX", ["CLAIRE"], "1991-02-17", "female", "44109")


def test_match_grades_scores_and_order(live, desk) -> None:
    ids = live.people.ids
    certain = desk.post("/Patient/$match", json=_parameters(ROUSSEAU)).json()
    assert certain["type"] == "searchset" and certain["total"] == 1
    ((found, grade, score),) = _grades(certain)
    assert (found, grade, score) == (ids["survivor"], "certain", 1.0)  # the merged identity is never a match
    entry = certain["entry"][0]
    assert entry["search"]["mode"] == "match" and entry["search"]["extension"][0]["url"] == GRADE
    probable = desk.post("/Patient/$match", json=_patient("ROUSSEAU", ["JEAN"], "1980-03-04", "male")).json()
    assert [(i, g) for i, g, _ in _grades(probable)] == [(ids["survivor"], "probable")]
    possible = desk.post(
        "/Patient/$match", json=_patient("DUPONT", ["MARIE", "ANNE", "CLAIRE"], "1980-01-16", "female")
    )
    assert [(i, g) for i, g, _ in _grades(possible.json())] == [(ids["qual"], "possible")]
    twins = _grades(desk.post("/Patient/$match", json=_parameters(TWIN)).json())
    assert {i for i, _, _ in twins} == {ids["twin_a"], ids["twin_b"]}
    assert [s for _, _, s in twins] == sorted((s for _, _, s in twins), reverse=True)


def test_only_certain_matches_as_iti_119_says(live, desk) -> None:
    ids = live.people.ids
    one = desk.post("/Patient/$match", json=_parameters(ROUSSEAU, only_certain=True)).json()
    assert ids_of(one) == [ids["survivor"]]
    probable_only = _parameters(_patient("ROUSSEAU", ["JEAN"], "1980-03-04", "male"), only_certain=True)
    assert desk.post("/Patient/$match", json=probable_only).json() == {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 0,
    }
    # Two certain records that are two persons (nothing links them): none can be confirmed.
    assert desk.post("/Patient/$match", json=_parameters(TWIN, only_certain=True)).json()["total"] == 0
    assert desk.post("/Patient/$match", json=_parameters(TWIN, count=1)).json()["total"] == 1
    # Two certain records linked as one person: both are returned.
    linked = _patient("BERTIN", ["LOUISE"], "1948-08-08", "female", "69123")
    both = desk.post("/Patient/$match", json=_parameters(linked, only_certain=True)).json()
    assert set(ids_of(both)) == {ids["linked_a"], ids["linked_b"]}


def test_match_input_errors(live, desk) -> None:
    cases = [
        {"resourceType": "Observation"},
        {"resourceType": "Parameters", "parameter": [{"name": "onlyCertainMatches", "valueBoolean": True}]},
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "resource", "resource": ROUSSEAU}, {"name": "x"}],
        },
        _parameters(ROUSSEAU, count=0),
        _patient("ROUSSEAU", ["JEAN"], "1980-03-04", "nope"),
        {**ROUSSEAU, "birthDate": None},
        _patient("ROUSSEAU", [], "1980-03-04", "male"),
        _patient("ROUS5EAU", ["JEAN"], "1980-03-04", "male"),
    ]
    for body in cases:
        response = desk.post("/Patient/$match", json=body)
        assert response.status_code == 400, body
        assert issue_of(response)["code"] == "invalid", body
    entity = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Patient/>'
    hostile = desk.post("/Patient/$match", content=entity, headers={"Content-Type": "application/fhir+xml"})
    assert hostile.status_code == 400 and issue_of(hostile)["code"] == "structure"
    broken = desk.post("/Patient/$match", content=b"{", headers={"Content-Type": "application/fhir+json"})
    assert broken.status_code == 400 and issue_of(broken)["code"] == "structure"
    assert live.client("integration").post("/Patient/$match", json=ROUSSEAU).status_code == 403


def test_match_xml_in_and_out(live, desk) -> None:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.patient import Patient

    xml = Patient.model_validate(ROUSSEAU).model_dump_xml()
    response = desk.post(
        "/Patient/$match",
        content=xml,
        headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"},
    )
    assert response.status_code == 200, response.text
    bundle = Bundle.model_validate_xml(response.content)
    assert bundle.total == 1 and bundle.entry[0].search.score == 1.0


def _pix(desk, source: str, *targets: str) -> Any:
    params = [("sourceIdentifier", source)] + [("targetSystem", t) for t in targets]
    return desk.get("/Patient/$ihe-pix", params=params)


def _targets(response: Any) -> tuple[set[tuple[str, str]], list[str]]:
    parameters = response.json().get("parameter", [])
    identifiers = {
        (p["valueIdentifier"]["system"], p["valueIdentifier"]["value"])
        for p in parameters
        if p["name"] == "targetIdentifier"
    }
    references = [p["valueReference"]["reference"] for p in parameters if p["name"] == "targetId"]
    return identifiers, references


def test_pix_from_ipp_ins_and_a_merged_identitys_old_ipp(live, desk) -> None:
    ids, ipps = live.people.ids, live.people.ipps
    by_ipp = _pix(desk, f"{IPP_SYSTEM}|{ipps['qual']}")
    assert _targets(by_ipp) == (
        {(NIR_SYSTEM, NIR_QUAL), (NIR_SYSTEM, NIR_QUAL_OLD)},
        [f"Patient/{ids['qual']}"],
    )
    by_ins = _pix(desk, f"{NIR_SYSTEM}|{NIR_QUAL}", IPP_SYSTEM)
    assert _targets(by_ins) == ({(IPP_SYSTEM, ipps["qual"])}, [])
    old = _pix(desk, f"{IPP_SYSTEM}|{ipps['absorbed']}")
    assert _targets(old) == (
        {(IPP_SYSTEM, ipps["survivor"])},
        [f"Patient/{ids['survivor']}"],
    )
    by_id = _pix(desk, f"{live.base}/fhir|Patient/{ids['survivor']}", IPP_SYSTEM)
    assert _targets(by_id) == ({(IPP_SYSTEM, ipps["survivor"]), (IPP_SYSTEM, ipps["absorbed"])}, [])
    merged_id = _pix(desk, f"{live.base}/fhir|Patient/{ids['absorbed']}")
    assert _targets(merged_id) == (
        {(IPP_SYSTEM, ipps["survivor"]), (IPP_SYSTEM, ipps["absorbed"])},
        [f"Patient/{ids['survivor']}"],
    )
    no_ins = _pix(desk, f"{IPP_SYSTEM}|{ipps['recup']}", NIR_SYSTEM)
    assert no_ins.status_code == 200 and _targets(no_ins) == (set(), [])


def test_pix_errors(live, desk) -> None:
    ipps = live.people.ipps
    cases = [
        (f"{IPP_SYSTEM}|NOSUCHIPP", (), 404, "not-found", "sourceidentifier patient identifier not found"),
        (f"{NIR_SYSTEM}|{NIR_RECUP}", (), 404, "not-found", "sourceidentifier patient identifier not found"),
        (
            f"urn:oid:1.2.3|{ipps['qual']}",
            (),
            400,
            "code-invalid",
            "sourceidentifier assigning authority not found",
        ),
        (f"{IPP_SYSTEM}|{ipps['qual']}", ("urn:oid:9.9",), 403, "code-invalid", "targetsystem not found"),
        (ipps["qual"], (), 400, "invalid", "invalid value for sourceidentifier"),
    ]
    for source, targets, status, code, text in cases:
        response = _pix(desk, source, *targets)
        assert response.status_code == status, source
        issue = issue_of(response)
        assert (issue["code"], issue["diagnostics"].lower().startswith(text)) == (code, True), issue
    assert desk.get("/Patient/$ihe-pix").status_code == 400
    extra = desk.get("/Patient/$ihe-pix", params={"sourceIdentifier": f"{IPP_SYSTEM}|x", "foo": "1"})
    assert extra.status_code == 400
    assert desk.post("/Patient/$ihe-pix").status_code == 405


def test_fhirpy_as_an_independent_client(live) -> None:
    ids = live.people.ids
    client = SyncFHIRClient(
        f"{live.base}/fhir", authorization=auth(live.settings, "integration")["Authorization"]
    )
    found = (
        client.resources("Patient")
        .search(birthdate="1980,1990,1975,1962,1955,2001,1991")
        .limit(3)
        .fetch_all()
    )
    assert len(found) == 10 and len({p.id for p in found}) == 10  # followed the next links
    qual = client.reference("Patient", str(ids["qual"])).to_resource()
    assert qual["name"][0]["family"] == "DUPONT"
    assert any(i["value"] == NIR_QUAL for i in qual["identifier"])
    recup = client.resources("Patient").search(family="durand").first()
    assert [i["system"] for i in recup["identifier"]] == [IPP_SYSTEM]
