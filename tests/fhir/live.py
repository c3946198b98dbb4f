"""A live Identito server over a real socket (uvicorn in a thread), and a FHIR test client that checks
every Patient it receives (tests.fhir.conformance) and that no non-QUAL INS ever leaves."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fhir.resources.R4B import get_fhir_model_class

from tests.fhir.conformance import check_patient
from tests.fhir.support import NIR_RECUP


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve the app on an ephemeral port of 127.0.0.1; its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def patients_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The Patients of a response body (a Patient, a Bundle's entries)."""
    if body.get("resourceType") == "Patient":
        return [body]
    return [e["resource"] for e in body.get("entry", []) if e["resource"]["resourceType"] == "Patient"]


class FhirClient:
    """httpx on the live server's /fhir, with a bearer token; checks every response."""

    def __init__(self, base: str, token_header: dict[str, str]) -> None:
        self.base = base + "/fhir"
        self.http = httpx.Client(base_url=self.base, headers=token_header, timeout=30)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        kind = response.headers.get("content-type", "")
        if "xml" in kind:
            name = response.text.split("<", 2)[2].split(" ", 1)[0].split(">", 1)[0]
            body = (
                get_fhir_model_class(name)
                .model_validate_xml(response.content)
                .model_dump(mode="json", exclude_none=True)
            )
        else:
            body = response.json()
            get_fhir_model_class(body["resourceType"]).model_validate(body)
        for resource in patients_in(body):
            check_patient(resource)
        # The links echo the query the client sent; nothing else may carry a non-QUAL INS.
        echoed = json.dumps({key: value for key, value in body.items() if key != "link"})
        assert NIR_RECUP not in echoed, "the INS of a RECUP identity left the repository"
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def search(self, **params: Any) -> dict[str, Any]:
        """A GET search that must succeed: its Bundle."""
        response = self.get("/Patient", params=params)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def ids_of(bundle: dict[str, Any], mode: str = "match") -> list[int]:
    """Patient ids of a Bundle's entries of one search mode, in order."""
    return [int(e["resource"]["id"]) for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def issue_of(response: httpx.Response) -> dict[str, Any]:
    """The single issue of an OperationOutcome response."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    (issue,) = body["issue"]
    return issue  # type: ignore[no-any-return]
