"""FHIR Patient read and metadata over a live server (SQLite and PostgreSQL): the FR Core mapping, the
INS only for QUAL whoever asks, merged identities, XML, errors as OperationOutcome."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.patient import Patient

from app.main import create_app
from tests.conftest import auth
from tests.fhir.conformance import INS_PROFILE, RELIABILITY, check_patient
from tests.fhir.live import FhirClient, issue_of, serve
from tests.fhir.support import NIA_QUAL, NIR_QUAL, NIR_QUAL_OLD, NIR_RECUP, NIR_TEST

IPP_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2.999"
ROLES = ("admission", "identitovigilance", "integration", "documents")


def _reliability(patient: dict[str, Any]) -> dict[str, Any]:
    extension = next(e for e in patient["extension"] if e["url"] == RELIABILITY)
    return {
        e["url"]: e.get("valueCoding", e.get("valueDate", e.get("valueCodeableConcept")))
        for e in extension["extension"]
    }


def _identifiers(patient: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {
        (i["type"]["coding"][0]["code"], i["system"], i["use"], i["value"]) for i in patient["identifier"]
    }


def test_a_qual_identity_is_a_fr_core_ins_patient(live, desk) -> None:
    people = live.people
    patient = desk.get(f"/Patient/{people.ids['qual']}").json()
    assert INS_PROFILE in patient["meta"]["profile"]
    assert _identifiers(patient) == {
        ("PI", IPP_SYSTEM, "usual", people.ipps["qual"]),
        ("INS-NIR", "urn:oid:1.2.250.1.213.1.4.8", "official", NIR_QUAL),
        ("INS-NIR", "urn:oid:1.2.250.1.213.1.4.8", "old", NIR_QUAL_OLD),
    }
    official, usual = patient["name"]
    assert (official["use"], official["family"], official["given"]) == ("official", "DUPONT", ["MARIE"])
    assert official["extension"][0]["valueString"] == "MARIE ANNE CLAIRE"
    assert (usual["use"], usual["family"]) == ("usual", "MARTIN")
    assert (patient["gender"], patient["birthDate"], patient["active"]) == ("female", "1980-01-15", True)
    place = next(e for e in patient["extension"] if e["url"].endswith("patient-birthPlace"))
    assert place["valueAddress"]["extension"][0]["valueCoding"]["code"] == "75112"
    reliability = _reliability(patient)
    # The mapping Identito uses: RNIV QUAL -> QUAL (fr-core-cs-identity-status), never VALI of table 0445.
    assert reliability["identityStatus"]["code"] == "QUAL"
    assert reliability["methodCollection"]["code"] == "INSI"
    assert reliability["dateInterrogationINSi"] == "2026-03-02"
    assert (reliability["validationMode"]["code"], reliability["validationDate"]) == ("CN", "2026-03-01")


def test_nia_and_test_oids_get_their_fr_core_types(live, desk) -> None:
    nia = desk.get(f"/Patient/{live.people.ids['nia']}").json()
    assert ("INS-NIA", "urn:oid:1.2.250.1.213.1.4.9", "official", NIA_QUAL) in _identifiers(nia)
    assert nia["gender"] == "unknown"
    # Checked with a CS: high-trust for the RNIV, outside the INS profile's validation modes.
    assert "validationMode" not in _reliability(nia) and _reliability(nia)["validationDate"] == "2026-03-01"
    test = desk.get(f"/Patient/{live.people.ids['test']}").json()
    assert ("INS-NIR-TEST", "urn:oid:1.2.250.1.213.1.4.10", "official", NIR_TEST) in _identifiers(test)


def test_no_role_ever_sees_the_ins_of_a_non_qual_identity(live) -> None:
    for role in ROLES:
        client = live.client(role)
        for name in ("recup", "prov", "vali", "dout"):
            patient = client.get(f"/Patient/{live.people.ids[name]}").json()
            assert [i["type"]["coding"][0]["code"] for i in patient["identifier"]] == ["PI"], (role, name)
            assert INS_PROFILE not in patient["meta"]["profile"]
        found = client.search(identifier=f"urn:oid:1.2.250.1.213.1.4.8|{NIR_RECUP}")
        assert found["total"] == 0  # found by an identifier it does not show: never


def test_status_attributes_and_validation_of_other_identities(live, desk) -> None:
    ids = live.people.ids
    assert _reliability(desk.get(f"/Patient/{ids['recup']}").json())["identityStatus"]["code"] == "RECUP"
    vali = _reliability(desk.get(f"/Patient/{ids['vali']}").json())
    assert (vali["identityStatus"]["code"], vali["validationMode"]["code"]) == ("VALI", "PA")
    dout = desk.get(f"/Patient/{ids['dout']}").json()
    comments = [
        c["coding"][0]["code"]
        for e in dout["extension"]
        if e["url"] == RELIABILITY
        for c in [x["valueCodeableConcept"] for x in e["extension"] if x["url"] == "comment"]
    ]
    assert comments == ["DOUT", "HOMA"] and _reliability(dout)["identityStatus"]["code"] == "PROV"
    assert not any(e["url"].endswith("patient-birthPlace") for e in dout["extension"])


def test_a_merged_identity_reads_inactive_replaced_by_its_survivor(live, desk) -> None:
    ids, ipps = live.people.ids, live.people.ipps
    absorbed = desk.get(f"/Patient/{ids['absorbed']}").json()
    assert absorbed["active"] is False
    assert absorbed["link"] == [{"other": {"reference": f"Patient/{ids['survivor']}"}, "type": "replaced-by"}]
    assert _identifiers(absorbed) == {("PI", IPP_SYSTEM, "old", ipps["absorbed"])}
    survivor = desk.get(f"/Patient/{ids['survivor']}").json()
    assert survivor["active"] is True and "link" not in survivor
    assert _identifiers(survivor) == {
        ("PI", IPP_SYSTEM, "usual", ipps["survivor"]),
        ("PI", IPP_SYSTEM, "old", ipps["absorbed"]),
    }


def test_linked_identities_see_each_other(live, desk) -> None:
    ids = live.people.ids
    patient = desk.get(f"/Patient/{ids['linked_a']}").json()
    assert patient["active"] is True
    assert patient["link"] == [{"other": {"reference": f"Patient/{ids['linked_b']}"}, "type": "seealso"}]


def test_xml_by_format_and_accept(live, desk) -> None:
    url = f"/Patient/{live.people.ids['qual']}"
    for response in (
        desk.get(url, params={"_format": "xml"}),
        desk.get(url, headers={"Accept": "application/fhir+xml"}),
    ):
        assert response.headers["content-type"].startswith("application/fhir+xml")
        patient = Patient.model_validate_xml(response.content)
        as_json = patient.model_dump(mode="json", exclude_none=True)
        check_patient(as_json)
        assert NIR_QUAL in response.text
    refused = desk.get(url, params={"_format": "text/csv"})
    assert refused.status_code == 406 and issue_of(refused)["code"] == "not-supported"


def test_read_errors_are_operation_outcomes(live, desk) -> None:
    for url in ("/Patient/999999", "/Patient/abc"):
        response = desk.get(url)
        assert response.status_code == 404 and issue_of(response)["code"] == "not-found"
    anonymous = httpx.get(f"{live.base}/fhir/Patient/{live.people.ids['qual']}")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert issue_of(anonymous)["code"] == "login"
    for params in ({"family": "DUPONT"}, {"gender": "other"}):  # refused even when nothing can match
        forbidden = live.client("admin").get("/Patient", params=params)
        assert forbidden.status_code == 403 and issue_of(forbidden)["code"] == "forbidden"
    unknown = desk.get("/Observation")
    assert unknown.status_code == 404 and issue_of(unknown)["code"] == "not-found"
    not_allowed = desk.post("/Patient", json={"resourceType": "Patient"})
    assert not_allowed.status_code == 405 and issue_of(not_allowed)["code"] == "not-supported"


def test_errors_speak_french_when_configured(settings, ctx) -> None:
    french = settings.model_copy(update={"language": "fr"})
    with serve(create_app(french, ctx=ctx)) as base:
        client = FhirClient(base, auth(french, "admission"))
        response = client.get("/Patient", params={"telecom": "0102030405"})
    assert response.status_code == 400
    assert issue_of(response)["diagnostics"] == (
        "Le paramètre de recherche telecom n'est pas pris en charge : Identito ne détient pas cette donnée."
    )


def test_metadata_says_what_is_supported(live) -> None:
    response = httpx.get(f"{live.base}/fhir/metadata")
    statement = response.json()
    CapabilityStatement.model_validate(statement)
    (rest,) = statement["rest"]
    (resource,) = rest["resource"]
    assert {p["name"] for p in resource["searchParam"]} == {
        "_id",
        "active",
        "family",
        "given",
        "birthdate",
        "gender",
        "identifier",
    }
    assert {o["name"] for o in resource["operation"]} == {"match", "ihe-pix"}
    assert [i["code"] for i in resource["interaction"]] == ["read", "search-type"]
    assert statement["format"] == ["json", "xml"]
    xml = httpx.get(f"{live.base}/fhir/metadata", params={"_format": "xml"})
    assert CapabilityStatement.model_validate_xml(xml.content).fhirVersion == "4.0.1"
