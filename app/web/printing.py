"""Printing at the desk (INS cover page, INS label sheet) and the DataMatrix scanner field.

The identity page loads its printing panel from here (htmx, on load): the two print forms for a
QUAL identity; for the others, the API's own refusal message (RNIV EXI SI 08, app.domain.cover_page)
and the labels without INS (traits and IPP), which every active identity may have. The PDFs come
from the same use cases as the API (app.services.documents), as downloads.
The scanner field posts what the scanner typed (never in a URL) to app.services.documents
.identify_scanned, which says whether the identity may be opened.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from app.domain.labels import LABEL_SHEETS
from app.domain.scanned import DeskScanOutcome
from app.services import documents
from app.services.context import Actor
from app.services.documents import DeskScan, DocumentTools, IdentityRef
from app.web import compare
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.i18n import Words

router = APIRouter()
_Number = Annotated[str, Form(max_length=6)]


def _tools(request: Request) -> DocumentTools:
    return request.app.state.documents  # type: ignore[no-any-return]


def may_print(actor: Actor) -> bool:
    """Whether the printing actions are offered (the services' own role list; they refuse anyway)."""
    return bool(actor.roles & {role.value for role in documents.LABEL_PRINTERS})


def may_print_cover(actor: Actor) -> bool:
    """Whether the cover page is offered: document pipelines and the cell, not the desk."""
    return bool(actor.roles & {role.value for role in documents.PRINTERS})


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/identities/{identity_id}/print", name="print_panel")
def print_panel(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """The printing panel of the identity page (nothing for a role that may not print)."""
    if not may_print(actor):
        return Response("", media_type="text/html")
    tools = _tools(request)
    refusal = documents.print_refusal(ctx, tools, actor, identity_id)
    words: Words = request.app.state.words
    sheets = [(s.code, words("label_layout_option", labels=s.per_sheet, w=_mm(s.label_width, words),
                             h=_mm(s.label_height, words), columns=s.columns, rows=s.rows))
              for s in LABEL_SHEETS.values()]
    inactive = refusal is not None and getattr(refusal, "code", "") == "identity-inactive"
    return render(request, "_print.html", identity_id=identity_id, sheets=sheets,
                  refusal=refusal.message(words.language) if refusal else None, inactive=inactive,
                  default_layout=documents.label_sheet_format(tools).code, may_cover=may_print_cover(actor))


def _mm(value: float, words: Words) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if words.language == "fr" else text


@router.post("/identities/{identity_id}/cover-page", name="print_cover")
def print_cover(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep) -> Response:
    """The identity's A4 INS cover page, downloaded."""
    pdf = documents.cover_page(ctx, _tools(request), actor, IdentityRef(identity_id=identity_id))
    return _pdf(pdf, f"page-de-garde-ins-{identity_id}.pdf")


@router.post("/identities/{identity_id}/labels", name="print_labels")
def print_labels(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
                 layout: Annotated[str, Form(max_length=40)] = "", start: _Number = "1",
                 count: _Number = "", with_ins: Annotated[str, Form(max_length=5)] = "true") -> Response:
    """The identity's label sheet, downloaded: INS labels (QUAL), or labels without INS."""
    first = _whole(start)
    ins = with_ins != "false"
    pdf = documents.label_sheet(ctx, _tools(request), actor, IdentityRef(identity_id=identity_id),
                                layout or None, 1 if first is None else first, _whole(count), with_ins=ins)
    return _pdf(pdf, f"etiquettes-ins-{identity_id}.pdf" if ins else f"etiquettes-{identity_id}.pdf")


def _whole(value: str) -> int | None:
    """A whole number typed in a field, None when empty; 0 (refused with the range) when not one."""
    value = value.strip()
    if not value:
        return None
    return int(value) if value.isdigit() else 0


@router.post("/scan", name="scan")
def scan(request: Request, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
         content: Annotated[str, Form(max_length=600)] = "") -> Response:
    """What the scanner typed: the identity opened, or why not, on the search page."""
    words: Words = request.app.state.words
    found = documents.identify_scanned(ctx, actor, content)
    identity = found.finding.identity
    if found.outcome is DeskScanOutcome.OPEN and identity is not None:
        request.state.session.flash = words("scan_open", n=identity.id)
        return RedirectResponse(f"{PREFIX}/identities/{identity.id}", status_code=303)
    status = 422 if found.outcome is DeskScanOutcome.INVALID else 200
    return render(request, "search.html", status_code=status, form={}, rows=None, error=None,
                  scan=_scan_view(found, words))


def _scan_view(found: DeskScan, words: Words) -> dict[str, object]:
    """What the page says about a scan that does not open an identity."""
    finding, identity = found.finding, found.finding.identity
    printed = finding.printed
    if printed is None:
        reason = finding.error.message(words.language) if finding.error else ""
        return {"message": words("scan_invalid", reason=reason), "rows": [], "identity_id": None}
    params: dict[str, object] = {"matricule": printed.matricule}
    if identity is not None:
        params.update(n=identity.id, survivor=identity.merged_into, status=identity.status.value,
                      traits=", ".join(words.field(name) for name in finding.differences))
    message = words(f"scan_{found.outcome.value}", **params)
    rows = []
    for name, key in (("birth_name", "birth_name"), ("first_names", "first_names"),
                      ("birth_date", "birth_date"), ("sex", "sex"), ("birth_place_code", "birth_place")):
        left = compare.shown(getattr(printed, name), words)
        right = compare.shown(getattr(identity.traits, name), words) if identity else ""
        mark = "missing" if not (left and right) else ("differs" if name in finding.differences else "equal")
        rows.append(compare.Row(words(key), left or "—", right or "—", mark, words(f"cmp_{mark}")))
    return {"message": message, "rows": rows, "identity_id": identity.id if identity else None,
            "survivor": identity.merged_into if identity else None}
