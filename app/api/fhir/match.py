"""ITI-119 ``$match``: the input (a Parameters with ``resource``, ``onlyCertainMatches``, ``count``, or a
bare Patient) read into the traits the candidate scorer takes, and the result Bundle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.api.fhir.errors import FhirError
from app.api.fhir.patient import Systems, patient
from app.domain import fhir_codes as fc
from app.domain.matching import Grade
from app.domain.messages import register_terms
from app.services.fhir import PatientRecord
from app.services.identities import TraitsInput
from app.services.matching import Candidate

MAX_COUNT = 50
register_terms({
    "a Parameters or a Patient is expected": "un Parameters ou un Patient est attendu",
    "unknown parameter": "paramètre inconnu",
    "resource (a Patient) is required": "resource (un Patient) est obligatoire",
    "onlyCertainMatches must be a boolean": "onlyCertainMatches doit être un booléen",
    "count must be an integer from 1 to 50": "count doit être un entier de 1 à 50",
    "a family name is required": "un nom de famille est obligatoire",
    "a given name is required": "un prénom est obligatoire",
    "birthDate is required": "birthDate est obligatoire",
    "gender is required": "gender est obligatoire",
}, parameter="why")
_SEX = {"male": "M", "female": "F", "unknown": "U", "other": "U"}


@dataclass(frozen=True)
class MatchInput:
    """What $match was asked: the traits, onlyCertainMatches, count."""

    traits: TraitsInput
    only_certain: bool = False
    count: int | None = None


def _bad(why: str) -> FhirError:
    return FhirError(400, "invalid", "fhir-match-input", why=why)


def _objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list element; anything else (a client's mistake) holds none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_input(body: dict[str, Any]) -> MatchInput:
    """The $match input (IHE.PDQm.MatchParametersIn, or a bare Patient)."""
    if body.get("resourceType") == "Patient":
        return MatchInput(traits_of(body))
    if body.get("resourceType") != "Parameters":
        raise _bad("a Parameters or a Patient is expected")
    resource, only_certain, count = None, False, None
    parameters = body.get("parameter")
    for parameter in parameters if isinstance(parameters, list) else []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name == "resource" and isinstance(parameter.get("resource"), dict):
            resource = parameter["resource"]
        elif name == "onlyCertainMatches":
            only_certain = parameter.get("valueBoolean")
            if not isinstance(only_certain, bool):
                raise _bad("onlyCertainMatches must be a boolean")
        elif name == "count":
            count = parameter.get("valueInteger")
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
                raise _bad("count must be an integer from 1 to 50")
        else:
            raise _bad("unknown parameter")
    if resource is None or resource.get("resourceType") != "Patient":
        raise _bad("resource (a Patient) is required")
    return MatchInput(traits_of(resource), only_certain, count)


def _names(resource: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    names = _objects(resource.get("name"))
    official = next((n for n in names if n.get("use") == "official"), None)
    official = official or next((n for n in names if n.get("use") in (None, "")), None)
    usual = next((n for n in names if n.get("use") == "usual"), None)
    if official is None and usual is not None:
        official, usual = usual, None
    if official is None or not _text(official.get("family")):
        raise _bad("a family name is required")
    return official, usual


def _birth_place(resource: dict[str, Any]) -> str | None:
    for extension in _objects(resource.get("extension")):
        if extension.get("url") == fc.EXT_BIRTH_PLACE:
            for inner in _objects(_object(extension.get("valueAddress")).get("extension")):
                if inner.get("url") == fc.EXT_INSEE_CODE:
                    return _text(_object(inner.get("valueCoding")).get("code"))
    return None


def traits_of(resource: dict[str, Any]) -> TraitsInput:
    """The traits of an input Patient: birth name and first names (all of them when the
    birth-list-given-name extension is there), used name, birth date, sex, birth place."""
    official, usual = _names(resource)
    listed = next((e.get("valueString") for e in _objects(official.get("extension"))
                   if e.get("url") == fc.EXT_BIRTH_LIST_GIVEN), None)
    given = [g for g in _list(official.get("given")) if isinstance(g, str)]
    first_names = listed if isinstance(listed, str) and listed.strip() else " ".join(given)
    if not first_names.strip():
        raise _bad("a given name is required")
    if not isinstance(resource.get("birthDate"), str):
        raise _bad("birthDate is required")
    if _text(resource.get("gender")) not in _SEX:
        raise _bad("gender is required")
    used_given = [g for g in _list((usual or {}).get("given")) if isinstance(g, str)]
    return TraitsInput(
        birth_name=str(official["family"]), first_names=first_names,
        first_name=given[0] if listed and given else None,
        birth_date=resource["birthDate"], sex=_SEX[resource["gender"]],
        birth_place_code=_birth_place(resource),
        used_name=_text((usual or {}).get("family")), used_first_name=used_given[0] if used_given else None,
    )


Found = list[tuple[PatientRecord, Candidate]]


def kept(found: Found, only_certain: bool) -> Found:
    """ITI-119 onlyCertainMatches: the certain matches when they are one person (a single record, or
    records linked together), else nothing: several persons cannot be told apart."""
    if not only_certain:
        return found
    certain = [f for f in found if f[1].result.grade is Grade.CERTAIN]
    return certain if certain and _one_person([record for record, _ in certain]) else []


def _one_person(records: list[PatientRecord]) -> bool:
    """Whether the records are connected by their links (one person kept in several records)."""
    ids = {r.identity.id for r in records}
    links = {r.identity.id: set(r.linked) & ids for r in records}
    reached: set[int] = set()
    todo = [records[0].identity.id]
    while todo:
        current = todo.pop()
        if current not in reached:
            reached.add(current)
            todo.extend(links[current] - reached)
    return reached == ids


def match_bundle(found: Found, systems: Systems, base: str) -> dict[str, Any]:
    """The $match result: a searchset Bundle, most likely first, score and match-grade on each entry."""
    entries = [{
        "fullUrl": f"{base}/Patient/{record.identity.id}",
        "resource": patient(record, systems),
        "search": {"extension": [{"url": fc.EXT_MATCH_GRADE, "valueCode": candidate.result.grade.value}],
                   "mode": "match", "score": round(candidate.result.score, 4)},
    } for record, candidate in found]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(entries)}
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle
