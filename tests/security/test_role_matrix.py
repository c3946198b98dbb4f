"""docs/security.md's role matrix, cell by cell, against the running application; and the documents
role never sees the INS of a non-QUAL identity (REST, FHIR and pages)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services.context import ServiceContext
from tests.conftest import auth
from tests.fhir.support import NIR_QUAL, NIR_RECUP
from tests.fhir.support import seed as seed_population
from tests.security import matrix

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
TABLE = matrix.parse_table(DOC.read_text(encoding="utf-8"))


def test_the_table_lists_every_endpoint_once(client: TestClient) -> None:
    routes = matrix.endpoints(client.app)  # type: ignore[arg-type]
    assert len(routes) > 80 and any(p.startswith("/fhir/") for _, p in routes)
    assert sum(p.startswith("/app/") for _, p in routes) > 15
    missing = sorted(set(routes) - set(TABLE))
    stale = sorted(set(TABLE) - set(routes))
    assert not missing, f"routes without a row in docs/security.md: {missing}"
    assert not stale, f"rows of docs/security.md without a route: {stale}"


@pytest.mark.parametrize("column", matrix.COLUMNS)
def test_each_cell_holds(column: str, settings: Settings, ctx: ServiceContext) -> None:
    """One fresh application per column (requests of one role change the data the next ones see)."""
    with TestClient(create_app(settings, ctx=ctx)) as client:
        a, b = matrix.seed(client, settings)
        wrong = []
        for (method, template), cells in TABLE.items():
            status = matrix.run(client, settings, method, template, column, a, b)
            assert status != 500, f"{method} {template} as {column}: 500"
            if matrix.verdict(template, column, status) != cells[column]:
                wrong.append(f"{method} {template}: table says {cells[column]}, got {status}")
    assert not wrong, f"role {column!r}:\n" + "\n".join(wrong)


def test_documents_role_never_sees_a_non_qual_ins(settings: Settings, ctx: ServiceContext) -> None:
    """Every endpoint the documents role may use, on every seeded identity: the RECUP identity's INS
    never appears (the QUAL one does, where an INS is shown), as JSON, FHIR JSON or FHIR XML."""
    people = seed_population(ctx)
    documents = auth(settings, "documents")
    allowed = [(m, t) for (m, t), cells in TABLE.items() if cells["documents"] == "yes"
               and not t.startswith("/app")]
    assert ("GET", "/identities/{identity_id}") in allowed and ("GET", "/fhir/Patient") in allowed
    seen_qual = False
    with TestClient(create_app(settings, ctx=ctx)) as client:
        recup = people.ids["recup"]
        requests: list[tuple[str, matrix.Req]] = []
        for method, template in allowed:
            for ident in people.ids.values():
                req = matrix.request_for(method, template, ident, ident)
                requests.append((method, req))
        for method, req in [
            ("GET", matrix.Req(f"/identities?ins={NIR_RECUP}")),
            ("GET", matrix.Req("/identities?birth_name=a&limit=200")),
            ("GET", matrix.Req(f"/identities?ipp={people.ipps['recup']}")),
            ("GET", matrix.Req(f"/fhir/Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|{NIR_RECUP}")),
            ("GET", matrix.Req(f"/fhir/Patient?_id={recup}")),
            ("GET", matrix.Req(f"/fhir/Patient/{recup}?_format=xml")),
            ("GET", matrix.Req(f"/identities/{recup}/datamatrix.txt")),
        ]:
            requests.append((method, req))
        for method, req in requests:
            response = client.request(method, req.url, json=req.json, data=req.data, files=req.files,
                                      headers={**req.headers, **documents})
            assert response.status_code not in (401, 403, 500), f"{method} {req.url}: {response.status_code}"
            text = response.text
            echoed = json.dumps({k: v for k, v in response.json().items() if k != "link"}) \
                if "json" in response.headers.get("content-type", "") and text.startswith("{") else text
            if NIR_RECUP in req.url:  # the query itself may be echoed (FHIR self link): the rest may not
                echoed = echoed.replace(req.url, "")
            assert NIR_RECUP not in echoed, f"{method} {req.url} showed a non-QUAL INS"
            assert NIR_RECUP[:13] not in echoed, f"{method} {req.url} showed a non-QUAL NIR"
            seen_qual = seen_qual or NIR_QUAL in text
        # The pages too: a documents session reads every identity page without the RECUP INS.
        cookie, _ = matrix.web_session(client.app, frozenset({"documents"}))  # type: ignore[arg-type]
        client.cookies.set("identito_session", cookie)
        for ident in people.ids.values():
            page = client.get(f"/app/identities/{ident}")
            assert page.status_code == 200 and NIR_RECUP[:13] not in page.text, f"page {ident}"
        client.cookies.clear()
        # The same identity, read by the cell, does carry its INS: the test looks at the right place.
        cell = client.get(f"/identities/{recup}", headers=auth(settings, "identitovigilance")).json()
        assert cell["ins"]["matricule"] == NIR_RECUP and cell["ins"]["transmissible"] is False
        mine = client.get(f"/identities/{recup}", headers=documents).json()
        assert mine["status"] == "RECUP" and mine["ins"] is None and mine["ins_history"] == []
    assert seen_qual, "the QUAL identity's INS was shown nowhere: the sweep would miss a leak"
