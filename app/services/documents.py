"""Document pipeline use cases: DataMatrix, cover page, stamping an uploaded PDF, scanning.

The drawing, PDF and barcode work is done by a ``DocumentRenderer`` port; the composition root
(app/main.py, app/cli.py) plugs in app.integrations.documents. These use cases only read
identities: nothing is written, so there is no transaction to commit. Only a QUAL identity is ever
printed (RNIV EXI SI 08, app.domain.cover_page). "INS printed" is logged once the document is
rendered, never for a refused identity or a document that could not be made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from app.db.identities import IdentityRepository
from app.domain import labels
from app.domain.cover_page import (
    Comparison,
    CoverPageData,
    DocumentInfo,
    DocumentTooLarge,
    StampedDocument,
    compare_printed,
    cover_page_data,
)
from app.domain.datamatrix import InsPayload, InvalidPayload, parse_payload, show_separators
from app.domain.errors import DomainError, InvalidTrait, RuleViolation
from app.domain.identity import Identity
from app.domain.ins import check_matricule
from app.domain.labels import DEFAULT_LABEL_SHEET, LabelSheet, Placement, TraitsLabel, placements
from app.domain.messages import register
from app.domain.roles import Role, require_any
from app.domain.scanned import DeskScanOutcome, desk_scan_outcome, typed_payload
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, NotFound
from app.services.queries import SEARCHERS

log = logging.getLogger(__name__)
PRINTERS = (Role.DOCUMENTS, Role.IDENTITOVIGILANCE)
# The desk prints the patient's labels at the counter once the identity is qualified.
LABEL_PRINTERS = (*PRINTERS, Role.ADMISSION)

register(
    "identity-ref-required",
    "Say which identity: exactly one of identity id, IPP or matricule INS.",
    "Indiquez l'identité : un seul parmi identifiant, IPP ou matricule INS.",
)
register(
    "identity-inactive",
    "The identity {ident} is deactivated (merged): use the surviving identity.",
    "L'identité {ident} est désactivée (fusionnée) : utilisez l'identité conservée.",
)


class DocumentRenderer(Protocol):
    """The port implemented by app.integrations.documents.renderer.DocumentRenderer."""

    def datamatrix_png(self, payload: str, module_px: int | None = None) -> bytes:
        """The symbol as PNG."""

    def datamatrix_svg(self, payload: str) -> str:
        """The symbol as SVG."""

    def cover_page(self, data: CoverPageData) -> bytes:
        """The A4 cover page PDF."""

    def label_sheet(self, data: CoverPageData | TraitsLabel, ipp: str, sheet: LabelSheet,
                    where: list[Placement]) -> bytes:
        """The A4 label sheet PDF (INS labels, or labels without INS for a ``TraitsLabel``)."""

    def stamp(self, pdf: bytes, data: CoverPageData, *, first_page: bool | None = None) -> StampedDocument:
        """The PDF with the cover page prepended (raises DocumentRejected for unusable files)."""

    def scan(self, data: bytes) -> list[bytes]:
        """Raw contents of the DataMatrix symbols of an image or a PDF's first page."""


@dataclass(frozen=True)
class DocumentTools:
    """The renderer and the establishment's document settings, built once by the composition root."""

    renderer: DocumentRenderer
    establishment_name: str
    max_upload_bytes: int
    birth_place_names: Mapping[str, str] = field(default_factory=dict)
    label_layout: str = DEFAULT_LABEL_SHEET  # the label sheet format printed when none is asked


@dataclass(frozen=True)
class IdentityRef:
    """Which identity a document is about: exactly one of id, IPP or matricule INS."""

    identity_id: int | None = None
    ipp: str | None = None
    ins: str | None = None


def find_identity(repo: IdentityRepository, ref: IdentityRef) -> Identity:
    """The identity by id, IPP, or active then historic INS (ins-rniv §6)."""
    given = [v for v in (ref.identity_id, ref.ipp, ref.ins) if v not in (None, "")]
    if len(given) != 1:
        raise InvalidTrait("identity-ref-required", field="identity")
    identity_id: int | None = ref.identity_id
    if ref.ipp:  # any assigning authority; a number two domains share must be told by id
        holders = repo.ids_by_ipp(ref.ipp.strip())
        if len(holders) > 1:
            ids = ", ".join(map(str, holders))
            raise Conflict("ipp-ambiguous", field="ipp", ipp=ref.ipp.strip(), ids=ids)
        identity_id = holders[0] if holders else None
    elif ref.ins:
        matricule = check_matricule(ref.ins)
        identity_id = repo.id_by_active_ins(matricule) or next(iter(repo.ids_by_any_ins(matricule)), None)
    identity = repo.get(identity_id) if identity_id is not None else None
    if identity is None:
        raise NotFound(what="Identity", ident=ref.identity_id or ref.ipp or "INS")
    return identity


def printable_data(
    ctx: ServiceContext,
    tools: DocumentTools,
    actor: Actor,
    ref: IdentityRef,
    document: DocumentInfo | None = None,
) -> tuple[int, CoverPageData]:
    """The identity id and what its cover page or DataMatrix shows; 409 unless QUAL (RNIV EXI SI 08)."""
    identity, data = _printable(ctx, tools, actor, ref, document)
    return identity.id, data


def _printable(
    ctx: ServiceContext,
    tools: DocumentTools,
    actor: Actor,
    ref: IdentityRef,
    document: DocumentInfo | None = None,
    roles: tuple[Role, ...] = PRINTERS,
) -> tuple[Identity, CoverPageData]:
    identity = _active_identity(ctx, actor, ref, roles)
    data = cover_page_data(
        identity.state,
        identity.active_ins,
        identity.traits,
        establishment_name=tools.establishment_name,
        birth_place_name=tools.birth_place_names.get(identity.traits.birth_place_code or ""),
        document=document,
    )
    return identity, data


def _active_identity(
    ctx: ServiceContext, actor: Actor, ref: IdentityRef, roles: tuple[Role, ...]
) -> Identity:
    """The identity a print is for: the actor's role checked, a merged identity refused."""
    require_any(actor.roles, *roles)
    with ctx.reading() as reader:
        identity = find_identity(reader.identities, ref)
    if not identity.active:
        raise RuleViolation("identity-inactive", ident=identity.id)
    return identity


def _printed(identity_id: int, actor: Actor, what: str) -> None:
    """Log a print that happened: identity id and actor, never the traits."""
    log.info("INS printed for identity %s by %s (%s)", identity_id, actor.subject, what)


def datamatrix(
    ctx: ServiceContext,
    tools: DocumentTools,
    actor: Actor,
    identity_id: int,
    fmt: Literal["png", "svg", "txt"],
    module_px: int | None = None,
) -> bytes:
    """The DataMatrix INS of a QUAL identity as PNG, SVG or text (GS shown <GS>)."""
    printed_id, data = printable_data(ctx, tools, actor, IdentityRef(identity_id=identity_id))
    if fmt == "png":
        content = tools.renderer.datamatrix_png(data.payload, module_px)
    elif fmt == "svg":
        content = tools.renderer.datamatrix_svg(data.payload).encode("utf-8")
    else:
        content = show_separators(data.payload).encode("utf-8")
    _printed(printed_id, actor, f"DataMatrix {fmt}")
    return content


def cover_page(
    ctx: ServiceContext,
    tools: DocumentTools,
    actor: Actor,
    ref: IdentityRef,
    document: DocumentInfo | None = None,
) -> bytes:
    """The A4 cover page PDF of a QUAL identity."""
    printed_id, data = printable_data(ctx, tools, actor, ref, document)
    pdf = tools.renderer.cover_page(data)
    _printed(printed_id, actor, "cover page")
    return pdf


def label_sheet(
    ctx: ServiceContext,
    tools: DocumentTools,
    actor: Actor,
    ref: IdentityRef,
    layout: str | None = None,
    start: int = 1,
    count: int | None = None,
    *,
    with_ins: bool = True,
) -> bytes:
    """An A4 label sheet: ``count`` labels (default: the rest of the sheet) from position ``start``,
    in the ``layout`` format (default: the setting). ``with_ins``: INS labels (traits, IPP, DataMatrix
    INS) of a QUAL identity, refused otherwise (RNIV EXI SI 08); without: labels with the traits and
    the IPP only, for any active identity (the INS is never on them)."""
    sheet = label_sheet_format(tools, layout)
    where = placements(sheet, start, sheet.per_sheet - start + 1 if count is None else count)
    if not with_ins:
        identity = _active_identity(ctx, actor, ref, LABEL_PRINTERS)
        label = TraitsLabel.of(identity.traits, identity.ipp, tools.establishment_name)
        pdf = tools.renderer.label_sheet(label, identity.ipp, sheet, where)
        log.info("labels printed (no INS) for identity %s by %s (label sheet %s x%d)", identity.id,
                 actor.subject, sheet.code, len(where))
        return pdf
    identity, data = _printable(ctx, tools, actor, ref, roles=LABEL_PRINTERS)
    pdf = tools.renderer.label_sheet(data, identity.ipp, sheet, where)
    _printed(identity.id, actor, f"label sheet {sheet.code} x{len(where)}")
    return pdf


def label_sheet_format(tools: DocumentTools, layout: str | None = None) -> LabelSheet:
    """The sheet format asked for, or the deployment's default (422 for an unknown code)."""
    return labels.label_sheet(layout or tools.label_layout)


def print_refusal(
    ctx: ServiceContext, tools: DocumentTools, actor: Actor, identity_id: int
) -> DomainError | None:
    """Why this identity's INS may not be printed now (the 409 the print would answer), or None."""
    try:
        _printable(ctx, tools, actor, IdentityRef(identity_id=identity_id), roles=LABEL_PRINTERS)
    except (RuleViolation, Conflict) as refusal:
        return refusal
    return None


def check_size(tools: DocumentTools, data: bytes) -> None:
    """Refuse an upload over the configured limit (HTTP 413)."""
    if len(data) > tools.max_upload_bytes:
        raise DocumentTooLarge(limit=tools.max_upload_bytes)


def stamp_document(
    ctx: ServiceContext,
    tools: DocumentTools,
    actor: Actor,
    pdf: bytes,
    ref: IdentityRef,
    document: DocumentInfo | None = None,
    *,
    first_page: bool | None = None,
) -> StampedDocument:
    """The uploaded PDF with the identity's cover page in front (original bytes kept)."""
    require_any(actor.roles, *PRINTERS)
    check_size(tools, pdf)
    printed_id, data = printable_data(ctx, tools, actor, ref, document)
    stamped = tools.renderer.stamp(pdf, data, first_page=first_page)
    _printed(printed_id, actor, "document cover page")
    return stamped


@dataclass(frozen=True)
class ScanFinding:
    """One symbol found on a scanned page, parsed and compared with the repository."""

    payload: str
    printed: InsPayload | None
    error: InvalidPayload | None = None  # rendered in the reader's language by the API
    comparison: Comparison | None = None
    differences: list[str] = field(default_factory=list)
    identity: Identity | None = None
    found_by: str | None = None  # "active" or "historic" INS


def scan_document(ctx: ServiceContext, tools: DocumentTools, actor: Actor, data: bytes) -> list[ScanFinding]:
    """Decode the DataMatrix symbols of an image or PDF and compare them with the repository."""
    require_any(actor.roles, *PRINTERS)
    check_size(tools, data)
    symbols = tools.renderer.scan(data)
    with ctx.reading() as reader:
        findings = [_finding(reader.identities, raw) for raw in symbols]
    log.info("scan by %s: %d symbol(s)", actor.subject, len(findings))
    return findings


def _finding(repo: IdentityRepository, raw: bytes) -> ScanFinding:
    return _finding_of(repo, raw.decode("latin-1"))


def _finding_of(repo: IdentityRepository, text: str) -> ScanFinding:
    try:
        printed = parse_payload(text)
    except InvalidPayload as error:
        return ScanFinding(show_separators(text), None, error=error)
    active_id = repo.id_by_active_ins(printed.matricule)
    ids = [active_id] if active_id is not None else repo.ids_by_any_ins(printed.matricule)
    identity = repo.get(ids[0]) if ids else None
    comparison, differences = compare_printed(printed, identity.traits if identity else None)
    return ScanFinding(
        payload=show_separators(text),
        printed=printed,
        comparison=comparison,
        differences=differences,
        identity=identity,
        found_by=None if identity is None else ("active" if active_id is not None else "historic"),
    )


@dataclass(frozen=True)
class DeskScan:
    """A DataMatrix INS typed by a desk's scanner: what to do, the identity and what differs."""

    outcome: DeskScanOutcome
    finding: ScanFinding


def identify_scanned(ctx: ServiceContext, actor: Actor, typed: str) -> DeskScan:
    """The identity a scanned DataMatrix INS designates, opened only when it is the active INS of
    an open QUAL identity with the printed traits (app.domain.scanned)."""
    require_any(actor.roles, *SEARCHERS)
    with ctx.reading() as reader:
        finding = _finding_of(reader.identities, typed_payload(typed))
    identity = finding.identity
    if finding.printed is None or finding.comparison is None:
        outcome = DeskScanOutcome.INVALID
    else:
        outcome = desk_scan_outcome(finding.comparison, finding.found_by == "active",
                                    identity.status if identity else None, bool(identity and identity.active))
    log.info("desk scan by %s: %s (identity %s)", actor.subject, outcome.value,
             identity.id if identity else "-")
    return DeskScan(outcome, finding)
