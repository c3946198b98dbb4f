"""Commands of the document pipelines: `identito cover-page`, `datamatrix`, `cover-page-batch`.

They run the same use cases as the API (app.services.documents) as the local operator, with the
role `documents`. Exit codes: 0 done, 2 unusable input (bad file, bad reference), 3 refused by an
identity rule (the HTTP 409 cases: identity not QUAL, DOUT/FICT), 4 identity not found, 1 when a
batch had failures. Output never shows patient traits, only ids and file names.
"""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.domain.cover_page import DocumentInfo, DocumentRejected, DocumentTooLarge
from app.domain.errors import DomainError, InvalidTrait, NotAllowed, RuleViolation

if TYPE_CHECKING:
    from app.config import Settings
    from app.services.context import Actor, ServiceContext
    from app.services.documents import DocumentTools, IdentityRef

EXIT_INPUT, EXIT_RULE, EXIT_NOT_FOUND = 2, 3, 4
BatchKey = Annotated[str, typer.Option("--key", help="What the file name starts with: ipp, ins or identity")]


def _exit_code(error: DomainError) -> int:
    from app.services.errors import NotFound

    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, RuleViolation | NotAllowed):
        return EXIT_RULE
    if isinstance(error, InvalidTrait | DocumentRejected | DocumentTooLarge):
        return EXIT_INPUT
    return 1


def _runtime() -> tuple[Settings, ServiceContext, DocumentTools, Actor]:
    """Settings, service context, document tools and the operator as actor."""
    from app.cli import load_settings, setup_logging
    from app.db.engine import make_engine
    from app.main import build_context, build_document_tools
    from app.services.context import Actor

    settings = load_settings()
    setup_logging(settings.log_level)
    ctx = build_context(settings, make_engine(settings.database_url))
    actor = Actor(f"cli:{getpass.getuser()}", frozenset({"documents"}), kind="job")
    return settings, ctx, build_document_tools(settings), actor


def _ref(identity: int | None, ipp: str | None, ins: str | None) -> IdentityRef:
    from app.services.documents import IdentityRef

    return IdentityRef(identity_id=identity, ipp=ipp, ins=ins)


def _fail(error: DomainError, language: str) -> typer.Exit:
    typer.echo(f"Refused ({error.code}): {error.message(language)}", err=True)
    return typer.Exit(_exit_code(error))


IdentityOpt = Annotated[int | None, typer.Option("--identity", help="Identity id")]
IppOpt = Annotated[str | None, typer.Option("--ipp", help="Local id (IPP)")]
InsOpt = Annotated[str | None, typer.Option("--ins", help="Matricule INS (active or historic)")]


def cover_page(
    paths: Annotated[
        list[Path], typer.Argument(help="IN.pdf OUT.pdf, or only OUT.pdf for the cover page alone")
    ],
    identity: IdentityOpt = None,
    ipp: IppOpt = None,
    ins: InsOpt = None,
    title: Annotated[str | None, typer.Option(help="Document title")] = None,
    document_date: Annotated[str | None, typer.Option("--date", help="Document date, YYYY-MM-DD")] = None,
    author: Annotated[str | None, typer.Option(help="Author or service")] = None,
    establishment: Annotated[str | None, typer.Option(help="Establishment (site) of the document")] = None,
    first_page: Annotated[
        bool | None, typer.Option("--first-page/--no-first-page", help="INS block on page 1")
    ] = None,
) -> None:
    """Prepend the INS cover page to IN.pdf into OUT.pdf (QUAL identities only)."""
    from app.services import documents

    if len(paths) not in (1, 2):
        typer.echo("Give IN.pdf OUT.pdf, or OUT.pdf alone.", err=True)
        raise typer.Exit(EXIT_INPUT)
    settings, ctx, tools, actor = _runtime()
    info = DocumentInfo(
        title, date.fromisoformat(document_date) if document_date else None, author, establishment
    )
    ref = _ref(identity, ipp, ins)
    try:
        if len(paths) == 1:
            paths[0].write_bytes(documents.cover_page(ctx, tools, actor, ref, info))
        else:
            result = documents.stamp_document(
                ctx, tools, actor, paths[0].read_bytes(), ref, info, first_page=first_page
            )
            paths[1].write_bytes(result.pdf)
            if first_page and not result.first_page_stamped:
                typer.echo("Signed document: page 1 left untouched, cover page added.", err=True)
    except DomainError as error:
        raise _fail(error, settings.language) from None
    typer.echo(f"Written {paths[-1]}")


def datamatrix(
    identity: Annotated[int, typer.Option("--identity", help="Identity id")],
    fmt: Annotated[str, typer.Option("--format", help="txt, png or svg")] = "txt",
    output: Annotated[Path | None, typer.Option(help="File to write (txt: standard output)")] = None,
    module_px: Annotated[int | None, typer.Option(help="PNG pixels per module")] = None,
) -> None:
    """The DataMatrix INS of a QUAL identity: payload text (GS shown <GS>), PNG or SVG."""
    from app.domain.datamatrix import show_separators
    from app.services import documents

    if fmt not in ("txt", "png", "svg") or (fmt != "txt" and output is None):
        typer.echo("--format is txt, png or svg; png and svg need --output.", err=True)
        raise typer.Exit(EXIT_INPUT)
    settings, ctx, tools, actor = _runtime()
    try:
        payload = documents.datamatrix_payload(ctx, tools, actor, identity)
    except DomainError as error:
        raise _fail(error, settings.language) from None
    if fmt == "png":
        output.write_bytes(tools.renderer.datamatrix_png(payload, module_px))  # type: ignore[union-attr]
    elif fmt == "svg":
        output.write_text(tools.renderer.datamatrix_svg(payload), encoding="utf-8")  # type: ignore[union-attr]
    elif output is not None:
        output.write_text(show_separators(payload) + "\n", encoding="ascii")
    else:
        typer.echo(show_separators(payload))


def cover_page_batch(
    in_dir: Annotated[Path, typer.Argument(help="Folder of PDFs named <key>_anything.pdf")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the covered PDFs (same names)")],
    key: BatchKey = "ipp",
    first_page: Annotated[
        bool | None, typer.Option("--first-page/--no-first-page", help="INS block on page 1")
    ] = None,
) -> None:
    """Cover every PDF of a folder; the identity is the file name's prefix before the first '_'."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if key not in ("ipp", "ins", "identity") or in_dir.resolve() == out_dir.resolve():
        typer.echo("--key is ipp, ins or identity, and OUT_DIR must differ from IN_DIR.", err=True)
        raise typer.Exit(EXIT_INPUT)
    files = sorted(p for p in in_dir.iterdir() if p.suffix.lower() == ".pdf" and p.is_file())
    out_dir.mkdir(parents=True, exist_ok=True)
    settings, ctx, tools, actor = _runtime()
    console = Console(stderr=True)
    outcomes: dict[str, list[str]] = {"done": [], "refused": [], "failed": []}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("cover pages", total=len(files))
        for path in files:
            outcome, reason = _one_file(ctx, tools, actor, path, out_dir, key, first_page, settings.language)
            outcomes[outcome].append(f"{path.name}: {reason}" if reason else path.name)
            progress.advance(task)
    for outcome in ("refused", "failed"):
        for line in outcomes[outcome]:
            console.print(f"[{outcome}] {line}", markup=False)
    done, refused, failed = (len(outcomes[k]) for k in ("done", "refused", "failed"))
    typer.echo(f"{done} covered, {refused} refused, {failed} failed")
    if outcomes["refused"] or outcomes["failed"]:
        raise typer.Exit(1)


def _one_file(
    ctx: ServiceContext,
    tools: DocumentTools,
    actor: Actor,
    path: Path,
    out_dir: Path,
    key: str,
    first_page: bool | None,
    language: str,
) -> tuple[str, str | None]:
    """Cover one file: ('done' | 'refused' | 'failed', reason)."""
    from app.services import documents

    prefix = path.stem.split("_", 1)[0]
    try:
        if key == "identity":
            ref = _ref(int(prefix) if prefix.isdigit() else -1, None, None)
        else:
            ref = _ref(None, prefix if key == "ipp" else None, prefix if key == "ins" else None)
        result = documents.stamp_document(
            ctx, tools, actor, path.read_bytes(), ref, DocumentInfo(title=None), first_page=first_page
        )
    except RuleViolation as error:
        return "refused", f"{error.code}: {error.message(language)}"
    except DomainError as error:
        return "failed", f"{error.code}: {error.message(language)}"
    except OSError as error:
        return "failed", f"cannot read: {error.strerror}"
    (out_dir / path.name).write_bytes(result.pdf)
    return "done", None


def register(cli: typer.Typer) -> None:
    """Add the document commands to the main command line."""
    cli.command("cover-page")(cover_page)
    cli.command("datamatrix")(datamatrix)
    cli.command("cover-page-batch")(cover_page_batch)
