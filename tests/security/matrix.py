"""The role matrix of docs/security.md: every endpoint (OpenAPI, /fhir, /app pages) x every role.

Each endpoint has a request recipe valid enough to reach its role check (a body that passes the
schema, real identity ids); ``run`` sends it with a token (API, FHIR) or a signed-in session (web
pages) of one role. Refused is a 403; allowed is anything but 401/403 (a 404 or 409 means the role
check was passed). ``python -m tests.security.matrix`` prints the table measured on a fresh app.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from app.api.auth import issue_dev_token
from app.config import Settings

ROLES = ("admission", "identitovigilance", "documents", "integration", "admin", "none")
COLUMNS = (*ROLES, "no token")
START, END = "<!-- role-matrix:start -->", "<!-- role-matrix:end -->"
TRAITS = {"birth_name": "GRILLE", "first_names": "Rose Alice", "birth_date": "1975-06-07", "sex": "F",
          "birth_place_code": "75056"}
OTHER = {**TRAITS, "first_names": "Louise", "birth_date": "1961-01-02"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
IF_MATCH = {"If-Match": '"1"'}


@dataclass
class Req:
    """One request: path already filled, optional JSON, form, files and headers."""

    url: str
    json: Any = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def endpoints(app: FastAPI) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation: the OpenAPI document, /fhir and /app routes."""
    found = [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]
    for route in app.routes:
        if isinstance(route, Mount) and route.path in ("/fhir", "/app"):
            found += [(m, route.path + path) for m, path in _walk(route.app.routes)]  # type: ignore[attr-defined]
    return sorted(set(found), key=lambda e: (e[1], e[0]))


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every API route, included routers too (recent FastAPI wraps them in an _IncludedRouter)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield from ((m, prefix + route.path) for m in sorted(route.methods - {"HEAD"}))
        elif hasattr(route, "original_router"):
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)


def recipes(a: int, b: int) -> dict[tuple[str, str], Req]:
    """A request per endpoint; ``a`` and ``b`` are two seeded identities (PROV)."""
    reason = {"reason": "contrôle des droits"}
    r: dict[tuple[str, str], Req] = {
        ("POST", "/identities"): Req("/identities", TRAITS),
        ("GET", "/identities"): Req("/identities?birth_name=grille"),
        ("POST", "/identities/candidates"): Req("/identities/candidates", TRAITS),
        ("GET", "/identities/{identity_id}"): Req(f"/identities/{a}"),
        ("PATCH", "/identities/{identity_id}"): Req(
            f"/identities/{a}", {"used_name": "GRILLE"}, headers=IF_MATCH),
        ("POST", "/identities/{identity_id}/documents"): Req(f"/identities/{a}/documents", {"type": "CN"},
                                                             headers=IF_MATCH),
        ("POST", "/identities/{identity_id}/documents/{document_id}/withdraw"): Req(
            f"/identities/{a}/documents/999/withdraw", reason),
        ("POST", "/identities/{identity_id}/attributes"): Req(f"/identities/{a}/attributes",
                                                              {**reason, "code": "HOMA"}, headers=IF_MATCH),
        ("DELETE", "/identities/{identity_id}/attributes/{code}"): Req(
            f"/identities/{a}/attributes/HOMA", reason,
                                                                       headers=IF_MATCH),
        ("POST", "/identities/{identity_id}/links"): Req(f"/identities/{a}/links", {"other_id": b, **reason}),
        ("DELETE", "/identities/{identity_id}/links/{other_id}"): Req(f"/identities/{a}/links/{b}", reason),
        ("POST", "/identities/{identity_id}/collision"): Req(f"/identities/{a}/collision", reason),
        ("POST", "/identities/{identity_id}/collision/resolve"): Req(
            f"/identities/{a}/collision/resolve", {"action": "not_a_collision", **reason}),
        ("POST", "/identities/{identity_id}/insi/retrieve"): Req(
            f"/identities/{a}/insi/retrieve", {"by": "traits"}),
        ("POST", "/identities/{identity_id}/insi/accept"): Req(f"/identities/{a}/insi/accept",
                                                               {"proposal_id": ZERO_UUID}, headers=IF_MATCH),
        ("POST", "/identities/{identity_id}/insi/reject"): Req(f"/identities/{a}/insi/reject",
                                                               {"proposal_id": ZERO_UUID, **reason}),
        ("POST", "/worklists/items/{item_id}/resolve"): Req("/worklists/items/999/resolve",
                                                            {"resolution": "no_action", **reason}),
        ("GET", "/worklists/{kind}"): Req("/worklists/insi_not_found"),
        ("POST", "/duplicates/{pair_id}/dismiss"): Req("/duplicates/999/dismiss", reason),
        ("POST", "/identities/{survivor_id}/merge"): Req(
            f"/identities/{a}/merge", {"absorbed_id": b, "absorbed_version": 1, **reason}, headers=IF_MATCH),
        ("POST", "/identities/{identity_id}/unmerge"): Req(f"/identities/{a}/unmerge", reason),
        ("POST", "/campaigns"): Req("/campaigns", {"name": "grille", "selection": {"ids": [a]}}),
        ("POST", "/campaigns/{campaign_id}/{action}"): Req("/campaigns/999/pause"),
        ("POST", "/insi/search"): Req("/insi/search", {"traits": {
            "birth_name": "GRILLE", "first_names": ["Rose"], "sex": "F", "birth_date": "1975-06-07"}}),
        ("POST", "/documents/cover-page"): Req("/documents/cover-page", data={"identity_id": str(a)},
                                               files={"file": ("d.pdf", PDF, "application/pdf")}),
        ("POST", "/documents/scan"): Req(
            "/documents/scan", files={"file": ("d.pdf", PDF, "application/pdf")}),
        ("POST", "/subscribers"): Req("/subscribers", {"name": "grille", "host": "127.0.0.1", "port": 2599,
                                                       "receiving_application": "APP",
                                                       "receiving_facility": "FAC"}),
        ("PATCH", "/subscribers/{subscriber_id}"): Req("/subscribers/999", {"enabled": False}),
        ("POST", "/subscribers/{subscriber_id}/replay"): Req("/subscribers/999/replay", {"identity_id": a}),
        ("POST", "/operations/dead-letters/{message_id}/skip"): Req(
            "/operations/dead-letters/999/skip", reason),
        ("POST", "/quarantine/{item_id}/rerun"): Req("/quarantine/999/rerun", {}),
        ("POST", "/quarantine/{item_id}/discard"): Req("/quarantine/999/discard", reason),
        # FHIR
        ("GET", "/fhir/Patient/$ihe-pix"): Req(f"/fhir/Patient/$ihe-pix?sourceIdentifier=urn:oid:"
                                               f"1.2.250.1.71.4.2.2.999|{a}"),
        ("POST", "/fhir/Patient/$match"): Req("/fhir/Patient/$match", {
            "resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
                "resourceType": "Patient", "name": [{"family": "GRILLE", "given": ["Rose"]}],
                "birthDate": "1975-06-07", "gender": "female"}}]}),
        ("GET", "/fhir/Patient"): Req("/fhir/Patient?family=grille"),
        ("POST", "/fhir/Patient/_search"): Req("/fhir/Patient/_search", data={"family": "grille"}),
        ("GET", "/fhir/Patient/{patient_id}"): Req(f"/fhir/Patient/{a}"),
        # Web pages (forms carry the session's CSRF token, added by run())
        ("POST", "/app/search"): Req("/app/search", data={"name": "grille"}),
        ("POST", "/app/cell/worklists/{kind}/{item_id}/resolve"): Req(
            "/app/cell/worklists/insi_not_found/999/resolve", data={"resolution": "no_action", **reason}),
        ("POST", "/app/identities/check"): Req(
            "/app/identities/check", data={"check": "name", "name": "GRILLE"}),
        ("POST", "/app/identities"): Req("/app/identities", data={"name": "GRILLE", "first_name": "Rose"}),
        ("POST", "/app/cell/pairs/{pair_id}/merge"): Req("/app/cell/pairs/999/merge", data={
            "survivor": str(a), "low_version": "1", "high_version": "1", **reason}),
        ("POST", "/app/identities/{identity_id}/corrections/traits"): Req(
            f"/app/identities/{a}/corrections/traits",
            data={"version": "1", "used_name": "GRILLE", **reason}),
        ("POST", "/app/identities/{identity_id}/corrections/attributes"): Req(
            f"/app/identities/{a}/corrections/attributes",
            data={"version": "1", "action": "set:HOMA", "attribute_reason": reason["reason"]}),
        ("POST", "/app/admin/dead-letters/{message_id}/{action}"): Req(
            "/app/admin/dead-letters/999/skip", data=reason),
        ("POST", "/app/admin/subscribers/{subscriber_id}/{action}"): Req("/app/admin/subscribers/999/pause"),
        ("POST", "/app/cell/campaigns/{campaign_id}/{action}"): Req("/app/cell/campaigns/999/pause"),
        ("POST", "/app/signin/dev"): Req(
            "/app/signin/dev", data={"user": "agent-roles", "roles": "admission"}),
    }
    return r


def request_for(method: str, template: str, a: int, b: int) -> Req:
    """The endpoint's recipe, or by default its path with ids filled in (and no body)."""
    known = recipes(a, b).get((method, template))
    if known is not None:
        return known
    url = re.sub(r"\{(identity_id|survivor_id|patient_id)\}", str(a), template)
    url = re.sub(r"\{kind\}", "insi_not_found", url)
    url = re.sub(r"\{code\}", "HOMA", url)
    return Req(re.sub(r"\{[^}]+\}", "999", url))


def seed(client: TestClient, settings: Settings) -> tuple[int, int]:
    """Two provisional identities."""
    token = {"Authorization": f"Bearer {issue_dev_token(settings.auth, 'seed', ['admission'])}"}
    ids = []
    for traits in (TRAITS, OTHER):
        response = client.post("/identities", json={**traits, "confirm_new": True}, headers=token)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids[0], ids[1]


def web_session(app: FastAPI, roles: frozenset[str]) -> tuple[str, str]:
    """A signed-in session of the web app with these roles: (cookie value, CSRF token)."""
    web = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "/app")
    store = web.state.sessions
    session = store.sign_in(store.new(), "agent-roles", roles, "Agent Roles")
    store.commit(session)  # stored, as the session middleware does after a sign-in's response
    return store.cookie_value(session), session.csrf_token


def run(client: TestClient, settings: Settings, method: str, template: str, role: str, a: int,
        b: int) -> int:
    """Status of the endpoint's request made with this role ('no token': anonymous)."""
    req = request_for(method, template, a, b)
    headers = dict(req.headers)
    data = dict(req.data) if req.data is not None else None
    cookies: dict[str, str] = {}
    roles = [] if role in ("none", "no token") else [role]
    if template.startswith("/app"):
        if role != "no token":
            cookie, csrf = web_session(client.app, frozenset(roles))  # type: ignore[arg-type]
            cookies = {"identito_session": cookie}
            if method == "POST":
                data = {**(data or {}), "csrf_token": csrf}
    elif role != "no token":
        headers["Authorization"] = f"Bearer {issue_dev_token(settings.auth, 'agent-roles', roles)}"
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    response = client.request(method, req.url, json=req.json, data=data, files=req.files, headers=headers,
                              follow_redirects=False)
    client.cookies.clear()
    return response.status_code


def verdict(template: str, role: str, status: int) -> str:
    """'yes' (allowed) or 'no' (refused) as the table writes it."""
    if role == "no token":
        refused = status == 401 or (template.startswith("/app") and status in (303, 204) and status != 200)
        return "no" if refused else "yes"
    return "no" if status == 403 else "yes"


def parse_table(markdown: str) -> dict[tuple[str, str], dict[str, str]]:
    """The table between the markers: {(METHOD, template): {column: 'yes'|'no'}}."""
    body = markdown.split(START, 1)[1].split(END, 1)[0]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    lines = [line for line in body.strip().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert tuple(header[1:]) == COLUMNS, header
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        method, path = cells[0].strip("`").split(" ", 1)
        rows[(method, path)] = dict(zip(COLUMNS, cells[1:], strict=True))
    return rows


def render_table(measured: dict[tuple[str, str], dict[str, str]]) -> str:
    """The markdown table of measured verdicts."""
    lines = ["| Endpoint | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for (method, path), cells in measured.items():
        lines.append(f"| `{method} {path}` | " + " | ".join(cells[c] for c in COLUMNS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a maintenance tool: prints the measured table
    import shutil
    import tempfile
    from pathlib import Path

    from app.config import development_settings
    from app.db.migrations import upgrade
    from app.main import create_app

    template_db = Path(tempfile.mkdtemp()) / "t.db"
    upgrade(f"sqlite:///{template_db}")
    measured: dict[tuple[str, str], dict[str, str]] = {}
    for column in COLUMNS:
        folder = Path(tempfile.mkdtemp())
        shutil.copy(template_db, folder / "m.db")
        settings = development_settings(database_url=f"sqlite:///{folder / 'm.db'}", var_dir=folder / "var")
        app = create_app(settings)
        with TestClient(app) as client:
            a, b = seed(client, settings)
            for method, template in endpoints(app):
                status = run(client, settings, method, template, column, a, b)
                measured.setdefault((method, template), {})[column] = verdict(template, column, status)
                print(f"{column:18} {status} {method} {template}", file=__import__("sys").stderr)
    print(render_table(measured))
