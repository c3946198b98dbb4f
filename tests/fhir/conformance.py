"""Offline FR Core / PDQm checks of a Patient: parses with fhir.resources (R4B), the invariants of the
saved StructureDefinitions evaluated with fhirpathpy, identifier slices, required bindings against the
saved ValueSets and CodeSystems, and the RNIV rule that only a QUAL identity shows an INS."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fhir.resources.R4B.patient import Patient
from fhirpathpy import evaluate

SPEC = Path(__file__).parent.parent / "fixtures" / "fr-core"
FR = "https://hl7.fr/ig/fhir/core/"
RELIABILITY = FR + "StructureDefinition/fr-core-identity-reliability"
INS_PROFILE = FR + "StructureDefinition/fr-core-patient-ins|2.2.0-ballot-2"
INS_SLICES = {  # type code -> (system, allowed uses)
    "INS-NIR": ("urn:oid:1.2.250.1.213.1.4.8", None),
    "INS-NIA": ("urn:oid:1.2.250.1.213.1.4.9", None),
    "INS-NIR-TEST": ("urn:oid:1.2.250.1.213.1.4.10", {"official"}),
    "INS-NIR-DEMO": ("urn:oid:1.2.250.1.213.1.4.11", {"official"}),
}
IDENTIFIER_USE = "http://hl7.org/fhir/identifier-use"
INS_SYSTEMS = {system for system, _ in INS_SLICES.values()}
# PDQm Patient (IHE.PDQm.Patient) and the main line's identity-reliability rules (spec §5).
PDQM = {
    "iti-pdqm-patname": "name.all(family.exists() or given.exists() or text.exists())",
    "iti-pdqm-linkstatus": "link.exists() implies active.exists()",
    "identifier-system-value": "identifier.all(system.exists() and value.exists())",
    "no-modifier-extension": "modifierExtension.empty() and implicitRules.empty()",
}
RELIABILITY_RULES = {
    "fr-core-identity-reliability-1": "extension('comment').value.coding.exists(code = 'DOUT' or "
    "code = 'FICT') implies extension('identityStatus').value.exists(code = 'PROV')",
    "fr-core-identity-reliability-2": "(extension('comment').value.coding.where(code = 'DOUT').exists() and "
    "extension('comment').value.coding.where(code = 'FICT').exists()).not()",
}


def _load(name: str) -> dict[str, Any]:
    return json.loads((SPEC / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def invariants() -> dict[str, str]:
    """key -> FHIRPath of the constraints of the saved Patient profiles (differentials)."""
    found: dict[str, str] = {}
    for name in (
        "StructureDefinition-fr-core-patient.differential.json",
        "StructureDefinition-fr-core-patient-ins.differential.json",
    ):
        for element in _load(name)["differential"]["element"]:
            for constraint in element.get("constraint", []):
                found[constraint["key"]] = constraint["expression"]
    return found


@cache
def codes(value_set: str) -> frozenset[tuple[str, str]]:
    """(system, code) of a saved ValueSet: its concepts, or every code of the saved CodeSystems it
    includes whole, minus its exclusions."""
    compose = _load(f"ValueSet-{value_set}.json")["compose"]

    def expand(parts: list[dict[str, Any]]) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for part in parts:
            if "valueSet" in part:  # the FHIR core identifier-use value set (4.0.1), not saved
                assert part["valueSet"] == ["http://hl7.org/fhir/ValueSet/identifier-use|4.0.1"]
                out |= {(IDENTIFIER_USE, c) for c in ("usual", "official", "temp", "secondary", "old")}
                continue
            system = part["system"]
            if "concept" in part:
                out |= {(system, c["code"]) for c in part["concept"]}
            else:
                cs_name = system.rsplit("/", 1)[-1]
                cs = _load(f"CodeSystem-{cs_name}.json")
                out |= {(system, c["code"]) for c in cs["concept"]}
        return out

    return frozenset(expand(compose["include"]) - expand(compose.get("exclude", [])))


def _sub(extension: dict[str, Any], url: str) -> dict[str, Any] | None:
    return next((e for e in extension.get("extension", []) if e["url"] == url), None)


def check_patient(resource: dict[str, Any]) -> None:
    """Every offline check; raises AssertionError naming the rule that fails."""
    Patient.model_validate(resource)  # R4B structure and datatypes
    for key, expression in {**invariants(), **PDQM}.items():
        assert evaluate(resource, expression) == [True], f"{key} fails on Patient/{resource['id']}"
    reliability = next(e for e in resource["extension"] if e["url"] == RELIABILITY)
    for key, expression in RELIABILITY_RULES.items():
        assert evaluate(reliability, expression) in ([True], []), key
    status = _sub(reliability, "identityStatus")["valueCoding"]  # type: ignore[index]
    assert status["system"] == FR + "CodeSystem/fr-core-cs-identity-status"
    assert status["code"] in {"PROV", "RECUP", "VALI", "QUAL"}
    ins_claimed = INS_PROFILE in resource["meta"]["profile"]
    _check_identifiers(resource, status["code"], ins_claimed)
    _check_names_and_bindings(resource, reliability, ins_claimed)


def _check_identifiers(resource: dict[str, Any], status: str, ins_claimed: bool) -> None:
    assert resource["identifier"], "identifier 1..*"
    use_pi = {c for _, c in codes("fr-core-vs-patient-identifier-use-pi")}
    use_ins = {c for _, c in codes("fr-core-vs-patient-identifier-use-ins")}
    # Extensible binding: the value set, or the INS slices' own patterns (INS-NIR-TEST/DEMO are in the
    # FR Core code system, not in the value set).
    fr_0203 = _load("CodeSystem-fr-core-cs-v2-0203.json")
    types = codes("fr-core-vs-patient-identifier-type") | {
        (fr_0203["url"], c["code"]) for c in fr_0203["concept"]
    }
    shown_ins = False
    for identifier in resource["identifier"]:
        (coding,) = identifier["type"]["coding"]
        assert (coding["system"], coding["code"]) in types, coding
        if coding["code"] == "PI":
            assert identifier["use"] in use_pi and identifier["system"].startswith("urn:oid:")
            continue
        system, fixed = INS_SLICES[coding["code"]]
        assert identifier["system"] == system and identifier["use"] in (fixed or use_ins)
        shown_ins = True
    systems = {i["system"] for i in resource["identifier"]}
    # RNIV EXI SI 08: an INS leaves the repository only for a QUAL identity (QUAL -> code QUAL, not VALI).
    assert not (shown_ins or systems & INS_SYSTEMS) or status == "QUAL", "INS shown for a non-QUAL identity"
    assert ins_claimed == any(
        i["use"] == "official" for i in resource["identifier"] if i["system"] in INS_SYSTEMS
    )
    if ins_claimed:
        assert len([i for i in resource["identifier"] if i["use"] == "official"]) == 1


def _check_names_and_bindings(
    resource: dict[str, Any], reliability: dict[str, Any], ins_claimed: bool
) -> None:
    assert (resource["gender"]) in {c for _, c in codes("fr-core-vs-patient-gender")}
    official = [n for n in resource["name"] if n["use"] == "official"]
    assert len(official) == 1 and official[0]["family"] and len(official[0]["given"]) == 1
    (listed,) = [
        e for e in official[0]["extension"] if e["url"].endswith("fr-core-patient-birth-list-given-name")
    ]
    assert listed["valueString"].split()[0].startswith(official[0]["given"][0].split()[0])
    mode = _sub(reliability, "validationMode")
    if mode is not None:
        coding = (mode["valueCoding"]["system"], mode["valueCoding"]["code"])
        assert coding in codes("fr-core-vs-mode-validation-identity")
        assert not ins_claimed or coding in codes("fr-core-vs-mode-validation-identity-ins")
    method = _sub(reliability, "methodCollection")
    assert method is None or (method["valueCoding"]["system"], method["valueCoding"]["code"]) in codes(
        "fr-core-vs-identity-method-collection"
    )
    place = next((e for e in resource.get("extension", []) if e["url"].endswith("patient-birthPlace")), None)
    if place is not None:
        (insee,) = place["valueAddress"]["extension"]
        # The value set is all of TRE_R13-CommuneOM (not saved): its system, and a COG code's shape.
        include = _load("ValueSet-fr-core-vs-insee-code.json")["compose"]["include"][0]["system"]
        assert insee["valueCoding"]["system"] == include and len(insee["valueCoding"]["code"]) == 5
    if ins_claimed:
        assert resource["birthDate"] and place is not None, "INS profile: birthDate and birthPlace 1..1"
