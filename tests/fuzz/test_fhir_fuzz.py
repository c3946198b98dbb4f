"""Schema-based fuzzing of the FHIR interface (schemathesis) against a real server.

The FHIR application publishes its own OpenAPI document (``GET /fhir/openapi.json``, written in
app/api/fhir/openapi.py). As for the REST API (test_openapi_fuzz.py): the whole application runs
under uvicorn on SQLite; every operation of the document gets cases generated from its schemas
(positive and negative, fixed seed), each sent once with a token of each role. Checks:

- no server error (5xx), whatever the input;
- the status code, the content type, the headers and the body are those the document declares
  (errors are OperationOutcomes; XML answers are read back into FHIR JSON with ``fhir.resources``
  and checked against the same schemas);
- no 2xx for a role the role matrix of docs/security.md refuses.

The database holds the FHIR tests' population (tests/fhir/support.py: QUAL, RECUP, VALI identities,
INS and historic INS, a merge, linked records); half the generated cases name its ids, IPPs, INS,
names and birth dates, else nearly every search would find nobody. Bounded for CI (25 examples per
operation, about 25 s); ``IDENTITO_FUZZ_LONG=1`` runs 300 per operation (about 100 s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from lxml import etree

from app.api.fhir.openapi import fhir_openapi
from app.config import development_settings
from app.domain import fhir_codes as fc
from app.domain.ins import OID_NIA, OID_NIR, OID_NIR_TEST
from tests.e2e.conftest import LiveServer
from tests.fhir import support as population
from tests.fuzz.support import CHECKS, ROLES, allowed, examples, live_server

pytestmark = pytest.mark.fuzz

EXAMPLES = examples(25)  # per operation: 6 operations
ALLOWED = allowed("/fhir")  # the /fhir rows of the role matrix (docs/security.md)
IPP_SYSTEM = f"urn:oid:{development_settings().ipp_oid}"
DOCUMENT = fhir_openapi(development_settings().ipp_oid)
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schemathesis.deserializer("application/fhir+xml")
def _fhir_xml(_ctx: Any, response: Any) -> Any:
    """FHIR XML read back into FHIR JSON (fhir.resources R4B), checked against the document's schemas."""
    root = etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    model = get_fhir_model_class(etree.QName(root).localname).model_validate_xml(response.content)
    return json.loads(model.model_dump_json())


class Known:
    """Values of the seeded population (filled by the fixture before any case is generated)."""

    ids: list[str] = []
    sources: list[str] = []  # $ihe-pix sourceIdentifier values that name someone
    targets: list[str] = []
    identifiers: list[str] = []  # search identifier tokens
    people: list[dict[str, str]] = list(population.PEOPLE.values())


def _fill(people: population.Population, base: str) -> None:
    ins = [(OID_NIR, population.NIR_QUAL), (OID_NIR, population.NIR_QUAL_OLD),
           (OID_NIR, population.NIR_RECUP), (OID_NIA, population.NIA_QUAL),
           (OID_NIR_TEST, population.NIR_TEST)]
    Known.ids = [str(i) for i in people.ids.values()]
    Known.sources = ([f"{IPP_SYSTEM}|{ipp}" for ipp in people.ipps.values()]
                     + [f"urn:oid:{oid}|{value}" for oid, value in ins]
                     + [f"{base}|Patient/{i}" for i in Known.ids])
    Known.targets = [IPP_SYSTEM, base, *sorted(fc.INS_SYSTEMS)]
    Known.identifiers = ([f"{IPP_SYSTEM}|{ipp}" for ipp in people.ipps.values()]
                         + [ipp for ipp in people.ipps.values()]
                         + [f"urn:oid:{oid}|{value}" for oid, value in ins] + [value for _, value in ins]
                         + [f"{IPP_SYSTEM}|", f"urn:oid:{OID_NIR}|", f"{IPP_SYSTEM}|,urn:oid:{OID_NIA}|"])


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    """The whole application under uvicorn on SQLite, the FHIR tests' population in its database."""
    with live_server(tmp_path_factory.mktemp("fuzz-fhir"), sqlite_template) as live:
        _fill(population.seed(live.ctx), f"{live.url}/fhir")
        yield live


def _some(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=2)


def _known_search() -> st.SearchStrategy[dict[str, Any]]:
    """Search parameters that name the population: names (prefixes too), first names, dates, identifiers."""
    families = sorted({name for p in Known.people for name in (p["birth_name"], p["birth_name"][:3].lower())})
    givens = sorted({name for p in Known.people for name in p["first_names"].split()})
    dates = sorted({p["birth_date"] for p in Known.people} | {p["birth_date"][:4] for p in Known.people})
    return st.fixed_dictionaries({}, optional={
        "family": _some(families), "family:exact": _some(families), "given": _some(givens),
        "birthdate": _some(dates), "gender": _some(["male", "female", "unknown", "male,female"]),
        "identifier": _some(Known.identifiers), "_id": _some([",".join(Known.ids[:3]), *Known.ids]),
        "active": _some(["true", "false"]), "_count": st.sampled_from([0, 1, 2, 20]),
    })


def _known_patient() -> st.SearchStrategy[dict[str, Any]]:
    """A $match input describing someone of the population, as a bare Patient or a Parameters."""
    def patient(p: dict[str, str]) -> dict[str, Any]:
        return {"resourceType": "Patient", "name": [{"use": "official", "family": p["birth_name"],
                                                      "given": p["first_names"].split()}],
                "birthDate": p["birth_date"], "gender": {"M": "male", "F": "female"}.get(p["sex"], "unknown")}

    def parameters(resource: dict[str, Any], certain: bool, count: int) -> dict[str, Any]:
        return {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": resource},
            {"name": "onlyCertainMatches", "valueBoolean": certain},
            {"name": "count", "valueInteger": count}]}

    patients = st.sampled_from(Known.people).map(patient)
    return st.one_of(patients, st.builds(parameters, patients, st.booleans(), st.integers(1, 50)))


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the time, the Patient read names a seeded identity."""
    if not path_parameters or "patient_id" not in path_parameters or not Known.ids:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), st.sampled_from(Known.ids).map(
        lambda i: {**path_parameters, "patient_id": i}))


@schema.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
    """Half the time, $ihe-pix names a known identifier and the GET search names the population."""
    path, query = context.operation.path, query or {}
    if not Known.ids:
        return st.just(query)
    if path == "/Patient/$ihe-pix":
        known = st.fixed_dictionaries({"sourceIdentifier": st.sampled_from(Known.sources)},
                                      optional={"targetSystem": _some(Known.targets)})
    elif path == "/Patient" and context.operation.method.lower() == "get":
        known = _known_search()
    else:
        return st.just(query)
    kept = {k: v for k, v in query.items() if k in ("_format", "_total", "_offset")}
    return st.one_of(st.just(query), known.map(lambda k: {**kept, **k}))


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Half the time, the POST search and $match describe someone of the population."""
    path = context.operation.path
    if not Known.ids or path not in ("/Patient/_search", "/Patient/$match"):
        return st.just(body)
    return st.one_of(st.just(body), _known_search() if path == "/Patient/_search" else _known_patient())


def _as_fhir_xml(case: Any) -> None:
    """A $match body sent as XML: FHIR XML when it is a valid resource that XML can carry (else
    schemathesis's own XML: a control character, valid in a JSON string, has no XML form)."""
    if not (case.media_type or "").endswith("xml") or not isinstance(case.body, dict):
        return
    try:
        model = get_fhir_model_class(case.body["resourceType"]).model_validate(case.body)
        case.body = model.model_dump_xml()
    except Exception:  # noqa: BLE001 - an invalid resource goes out as schemathesis writes it
        return


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_fhir_operation_with_every_role(case: Any, fuzz_server: LiveServer, tokens: dict[str, str],
                                              session: requests.Session) -> None:
    key = (case.operation.method.upper(), "/fhir" + case.operation.path)
    assert key in ALLOWED, f"{key} is not in the role matrix of docs/security.md: add it (who may call it?)"
    _as_fhir_xml(case)
    for role in ROLES:
        response = case.call_and_validate(base_url=f"{fuzz_server.url}/fhir", session=session, checks=CHECKS,
                                          headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30)
        if 200 <= response.status_code < 300:
            assert role in ALLOWED[key], (
                f"{key} answered {response.status_code} to role {role!r}, which may not call it")


def test_served_document_is_the_fuzzed_one(fuzz_server: LiveServer) -> None:
    """The server publishes the document fuzzed here, and the role matrix names each of its operations."""
    response = requests.get(f"{fuzz_server.url}/fhir/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.json() == DOCUMENT
    operations = {(m.upper(), "/fhir" + p) for p, ops in DOCUMENT["paths"].items() for m in ops}
    assert operations == set(ALLOWED)
