"""Document pipelines: DataMatrix INS, cover page, stamping an uploaded PDF, scanning a page.

Roles: documents (and identitovigilance). Only a QUAL identity is printed: 409 otherwise, with
its status and what it lacks. Responses carry patient data: never cached.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from app.api.deps import CtxDep, SettingsDep, require_roles
from app.api.problems import problem_responses
from app.domain.cover_page import DocumentInfo
from app.domain.labels import LABEL_SHEETS
from app.domain.roles import Role
from app.services import documents
from app.services.context import Actor
from app.services.documents import DocumentTools, IdentityRef, ScanFinding

router = APIRouter(tags=["documents"])
PrinterDep = Annotated[Actor, Depends(require_roles(Role.DOCUMENTS, Role.IDENTITOVIGILANCE))]
LabelPrinterDep = Annotated[Actor, Depends(require_roles(*documents.LABEL_PRINTERS))]
NO_STORE = {"Cache-Control": "no-store"}
Text = Annotated[str | None, Query(max_length=200)]


def _binary(media_type: str, *problems: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI description of a binary answer; 409 when the INS may not be printed (EXI SI 08)."""
    return {200: {"content": {media_type: {}}, "description": "OK"}, **problem_responses(409, *problems)}


def get_tools(request: Request) -> DocumentTools:
    """The document tools wired by the composition root."""
    return request.app.state.documents  # type: ignore[no-any-return]


ToolsDep = Annotated[DocumentTools, Depends(get_tools)]


def _pdf(content: bytes, name: str, **headers: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={**NO_STORE, "Content-Disposition": f'inline; filename="{name}"', **headers},
    )


@router.get(
    "/identities/{identity_id}/datamatrix.png", response_class=Response, responses=_binary("image/png")
)
def datamatrix_png(
    identity_id: int,
    ctx: CtxDep,
    tools: ToolsDep,
    actor: PrinterDep,
    module_px: Annotated[int | None, Query(ge=1, le=40, description="Pixels per module")] = None,
) -> Response:
    """The DataMatrix INS (ECC 200, C40) as PNG, quiet zone included."""
    png = documents.datamatrix(ctx, tools, actor, identity_id, "png", module_px)
    return Response(png, media_type="image/png", headers=NO_STORE)


@router.get(
    "/identities/{identity_id}/datamatrix.svg", response_class=Response, responses=_binary("image/svg+xml")
)
def datamatrix_svg(identity_id: int, ctx: CtxDep, tools: ToolsDep, actor: PrinterDep) -> Response:
    """The DataMatrix INS as vector SVG (for print)."""
    svg = documents.datamatrix(ctx, tools, actor, identity_id, "svg")
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


@router.get(
    "/identities/{identity_id}/datamatrix.txt", response_class=Response, responses=_binary("text/plain")
)
def datamatrix_txt(identity_id: int, ctx: CtxDep, tools: ToolsDep, actor: PrinterDep) -> Response:
    """The DataMatrix INS payload as text, the GS separator written <GS>."""
    text = documents.datamatrix(ctx, tools, actor, identity_id, "txt")
    return Response(text, media_type="text/plain", headers=NO_STORE)


@router.get(
    "/identities/{identity_id}/cover-page.pdf", response_class=Response, responses=_binary("application/pdf")
)
def identity_cover_page(
    identity_id: int,
    ctx: CtxDep,
    tools: ToolsDep,
    actor: PrinterDep,
    title: Text = None,
    document_date: date | None = None,
    author: Text = None,
    establishment: Text = None,
) -> Response:
    """The A4 INS cover page of a QUAL identity, with the document's description when given."""
    info = DocumentInfo(title, document_date, author, establishment)
    pdf = documents.cover_page(ctx, tools, actor, IdentityRef(identity_id=identity_id), info)
    return _pdf(pdf, f"cover-page-{identity_id}.pdf")


FormText = Annotated[str | None, Form(max_length=200)]


@router.post("/documents/cover-page", response_class=Response, responses=_binary("application/pdf", 404, 413))
def stamp_document(
    ctx: CtxDep,
    tools: ToolsDep,
    actor: PrinterDep,
    file: Annotated[UploadFile, File(description="The PDF to cover")],
    identity_id: Annotated[int | None, Form()] = None,
    ipp: Annotated[str | None, Form(max_length=64)] = None,
    ins: Annotated[str | None, Form(max_length=20, description="Active or historic matricule INS")] = None,
    title: FormText = None,
    document_date: Annotated[date | None, Form()] = None,
    author: FormText = None,
    establishment: FormText = None,
    first_page: Annotated[bool | None, Form(description="Also put the INS block on page 1")] = None,
) -> Response:
    """The uploaded PDF with the INS cover page in front; the original bytes are kept as they are."""
    data = file.file.read(tools.max_upload_bytes + 1)
    ref = IdentityRef(identity_id=identity_id, ipp=ipp, ins=ins)
    info = DocumentInfo(title, document_date, author, establishment)
    result = documents.stamp_document(ctx, tools, actor, data, ref, info, first_page=first_page)
    return _pdf(
        result.pdf,
        "document-with-cover-page.pdf",
        **{
            "X-Identito-First-Page-Stamped": str(result.first_page_stamped).lower(),
            "X-Identito-Signed": str(result.signed).lower(),
        },
    )


class LabelSheetRequest(BaseModel):
    """Which identity (exactly one of identity_id, ipp, ins), the sheet format and the labels."""

    identity_id: int | None = None
    ipp: str | None = Field(default=None, max_length=64)
    ins: str | None = Field(default=None, max_length=20, description="Active or historic matricule INS")
    layout: str | None = Field(default=None, max_length=40,
                               description="Format code (GET /documents/label-sheets); default: the setting")
    start: int = Field(default=1, description="First free label of the first sheet (1 = top left)")
    count: int | None = Field(default=None, description="Labels to print; default: the rest of the sheet")
    with_ins: bool = Field(default=True, description=(
        "true: INS labels (traits, IPP, DataMatrix INS), QUAL identity only, 409 otherwise (RNIV EXI SI "
        "08); false: labels without INS (birth name, first first name, used name, birth date, sex, IPP) "
        "for any active identity"))


class LabelSheetFormat(BaseModel):
    """An A4 label sheet format."""

    code: str
    columns: int
    rows: int
    labels: int
    label_width_mm: float
    label_height_mm: float
    default: bool


@router.get("/documents/label-sheets", response_model=list[LabelSheetFormat])
def label_sheet_formats(tools: ToolsDep, actor: LabelPrinterDep) -> list[LabelSheetFormat]:
    """The A4 label sheet formats Identito prints on."""
    default = documents.label_sheet_format(tools).code
    return [LabelSheetFormat(code=s.code, columns=s.columns, rows=s.rows, labels=s.per_sheet,
                             label_width_mm=s.label_width, label_height_mm=s.label_height,
                             default=s.code == default) for s in LABEL_SHEETS.values()]


@router.post("/documents/label-sheet", response_class=Response, responses=_binary("application/pdf", 404))
def label_sheet(body: LabelSheetRequest, ctx: CtxDep, tools: ToolsDep, actor: LabelPrinterDep) -> Response:
    """An A4 sheet of INS labels (traits, IPP, DataMatrix INS) of a QUAL identity, 409 otherwise; with
    ``with_ins: false``, labels without INS (traits and IPP) of any active identity."""
    ref = IdentityRef(identity_id=body.identity_id, ipp=body.ipp, ins=body.ins)
    pdf = documents.label_sheet(ctx, tools, actor, ref, body.layout, body.start, body.count,
                                with_ins=body.with_ins)
    return _pdf(pdf, "ins-labels.pdf" if body.with_ins else "labels.pdf")


class PrintedTraits(BaseModel):
    """What the symbol carries."""

    matricule: str
    oid: str
    birth_name: str
    first_names: str
    sex: str
    birth_date: date
    birth_place_code: str | None


class FoundIdentity(BaseModel):
    """The identity holding the printed INS."""

    id: int
    ipp: str
    status: str
    found_by: str


class SymbolRead(BaseModel):
    """One DataMatrix found on the page."""

    payload: str
    valid: bool
    error: str | None = None
    printed: PrintedTraits | None = None
    comparison: str | None = None
    differences: list[str] = []
    identity: FoundIdentity | None = None

    @classmethod
    def of(cls, finding: ScanFinding, language: str) -> SymbolRead:
        """API view of a finding, its error in the language."""
        printed = finding.printed
        identity = finding.identity
        return cls(
            payload=finding.payload,
            valid=printed is not None,
            error=finding.error.message(language) if finding.error else None,
            printed=None
            if printed is None
            else PrintedTraits(
                matricule=printed.matricule,
                oid=printed.oid,
                birth_name=printed.birth_name,
                first_names=printed.first_names,
                sex=printed.sex.value,
                birth_date=printed.birth_date,
                birth_place_code=printed.birth_place_code,
            ),
            comparison=finding.comparison.value if finding.comparison else None,
            differences=finding.differences,
            identity=None
            if identity is None
            else FoundIdentity(
                id=identity.id,
                ipp=identity.ipp,
                status=identity.status.value,
                found_by=finding.found_by or "",
            ),
        )


class ScanRead(BaseModel):
    """Every DataMatrix found on the uploaded page."""

    found: int
    symbols: list[SymbolRead]


@router.post("/documents/scan", response_model=ScanRead, responses=problem_responses(413))
def scan_document(
    ctx: CtxDep,
    tools: ToolsDep,
    actor: PrinterDep,
    response: Response,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="PNG, JPEG, TIFF or PDF (first page)")],
) -> ScanRead:
    """Find the DataMatrix INS, parse it, find the identity by INS and compare the printed traits."""
    data = file.file.read(tools.max_upload_bytes + 1)
    findings = documents.scan_document(ctx, tools, actor, data)
    response.headers["Cache-Control"] = "no-store"
    return ScanRead(found=len(findings), symbols=[SymbolRead.of(f, settings.language) for f in findings])
