"""FHIR routes: metadata, Patient read and search (ITI-78), $match (ITI-119), $ihe-pix (ITI-83)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import ActorDep, CtxDep, SettingsDep
from app.api.fhir import pix
from app.api.fhir.capability import capability_statement
from app.api.fhir.errors import FhirError
from app.api.fhir.match import kept, match_bundle, read_input
from app.api.fhir.patient import Systems, patient
from app.api.fhir.render import fhir_response, negotiate, parse_body
from app.api.fhir.search import ParsedSearch, parse_search, whole_number
from app.domain import fhir_codes as fc
from app.services import fhir
from app.services.errors import NotFound

router = APIRouter()
MAX_BODY = 64 * 1024


def base_of(request: Request) -> str:
    """The FHIR base URL as the client reached it (fullUrl, paging links)."""
    return str(request.base_url).rstrip("/") + str(request.scope.get("root_path", "")).rstrip("/")


def systems_of(request: Request, settings: Any) -> Systems:
    """The identifier systems (the establishment's IPP OID, this server's base for logical ids)."""
    return Systems(settings.ipp_oid, base_of(request))


@router.get("/metadata")
def metadata(request: Request, settings: SettingsDep) -> Response:
    """The CapabilityStatement (no token needed: it holds no patient data)."""
    return fhir_response(capability_statement(settings.ipp_oid, base_of(request)), negotiate(request))


@router.get("/Patient/$ihe-pix")
def ihe_pix(request: Request, ctx: CtxDep, actor: ActorDep, settings: SettingsDep) -> Response:
    """ITI-83: the other identifiers of the person a source identifier names."""
    fmt = negotiate(request)
    body = pix.cross_reference(ctx, actor, list(request.query_params.multi_items()),
                               systems_of(request, settings))
    return fhir_response(body, fmt)


@router.post("/Patient/$match")
async def match(request: Request, ctx: CtxDep, actor: ActorDep, settings: SettingsDep) -> Response:
    """ITI-119: the identities that may be the person described, most likely first."""
    fmt = negotiate(request)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise FhirError(413, "too-long", "fhir-body-invalid", why="size")
    asked = read_input(parse_body(raw, request.headers.get("content-type", "")))
    found = await run_in_threadpool(fhir.match_patients, ctx, actor, asked.traits, limit=asked.count)
    bundle = match_bundle(kept(found, asked.only_certain), systems_of(request, settings), base_of(request))
    return fhir_response(bundle, fmt)


@router.get("/Patient")
def search_get(request: Request, ctx: CtxDep, actor: ActorDep, settings: SettingsDep) -> Response:
    """ITI-78 search by GET."""
    return _search(request, ctx, actor, settings, list(request.query_params.multi_items()))


@router.post("/Patient/_search")
async def search_post(request: Request, ctx: CtxDep, actor: ActorDep, settings: SettingsDep) -> Response:
    """ITI-78 search by POST (form body, plus any query string parameters)."""
    form = await request.form()
    pairs = list(request.query_params.multi_items()) + [(k, str(v)) for k, v in form.multi_items()]
    return await run_in_threadpool(_search, request, ctx, actor, settings, pairs)


@router.get("/Patient/{patient_id}")
def read(patient_id: str, request: Request, ctx: CtxDep, actor: ActorDep, settings: SettingsDep) -> Response:
    """ITI-78 read: a merged identity reads inactive, with a replaced-by link to its survivor."""
    fmt = negotiate(request)
    number = whole_number(patient_id)
    if number is None:
        raise FhirError(404, "not-found", "fhir-patient-not-found", ident=patient_id[:20])
    try:
        record = fhir.read_patient(ctx, actor, number)
    except NotFound:
        raise FhirError(404, "not-found", "fhir-patient-not-found", ident=patient_id) from None
    resource = patient(record, systems_of(request, settings))
    return fhir_response(resource, fmt, headers={"ETag": f'W/"{record.identity.version}"'})


def _lenient(request: Request) -> bool:
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    return "handling=lenient" in prefer.split(";") or "handling=lenient" in prefer.split(",")


def _search(request: Request, ctx: Any, actor: Any, settings: Any, pairs: list[tuple[str, str]]) -> Response:
    fmt = negotiate(request)
    systems = systems_of(request, settings)
    parsed = parse_search(pairs, systems, lenient=_lenient(request))
    page = fhir.search_patients(ctx, actor, parsed.query, count=parsed.count, offset=parsed.offset,
                                with_total=parsed.with_total)
    return fhir_response(_bundle(page, parsed, systems, base_of(request)), fmt)


def _bundle(page: fhir.PatientPage, parsed: ParsedSearch, systems: Systems, base: str) -> dict[str, Any]:
    def entry(record: fhir.PatientRecord, mode: str) -> dict[str, Any]:
        resource = patient(record, systems)
        if parsed.domains:  # the domain filter: only identifiers of the domains asked for
            resource["identifier"] = [i for i in resource["identifier"] if i["system"] in parsed.domains]
            if not any(i["system"] in fc.INS_SYSTEMS for i in resource["identifier"]):
                resource["meta"]["profile"] = [fc.PROFILE_PATIENT]
        return {"fullUrl": f"{base}/Patient/{record.identity.id}", "resource": resource,
                "search": {"mode": mode}}

    entries = [entry(r, "match") for r in page.records] + [entry(r, "include") for r in page.included]
    links = [{"relation": "self", "url": _page_url(base, parsed, parsed.offset)}]
    if page.more:
        links.append({"relation": "next", "url": _page_url(base, parsed, parsed.offset + parsed.count)})
    if parsed.offset > 0:
        previous = _page_url(base, parsed, max(0, parsed.offset - parsed.count))
        links.append({"relation": "previous", "url": previous})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    if page.total is not None:
        bundle["total"] = page.total
    if entries:
        bundle["entry"] = entries
    return bundle


def _page_url(base: str, parsed: ParsedSearch, offset: int) -> str:
    params = [*parsed.honoured, ("_count", str(parsed.count))]
    if not parsed.with_total:
        params.append(("_total", "none"))
    if offset:
        params.append(("_offset", str(offset)))
    return f"{base}/Patient?{urlencode(params)}"
