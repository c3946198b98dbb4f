"""Commands of the document pipelines: `identito cover-page`, `datamatrix`, `cover-page-batch`.

They run the same use cases as the API (app.services.documents) as the local operator, with the
role `documents`. Exit codes: 0 done, 2 unusable input (bad file, bad reference), 3 refused by an
identity rule (the HTTP 409 cases: identity not QUAL, DOUT/FICT), 4 identity not found, 1 when a
batch had failures. Output never shows patient traits, only ids and file names.
"""

from __future__ import annotations

import errno
import getpass
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.errors import (
    EXIT_INPUT,
    EXIT_NOT_FOUND,
    EXIT_RULE,
    file_error,
    file_reason,
    parse_date,
    refused,
    say,
    usage_error,
)
from app.domain.cover_page import DocumentInfo
from app.domain.errors import DomainError, RuleViolation
from app.domain.messages import register as register_message
from app.domain.messages import render

if TYPE_CHECKING:
    from app.config import Settings
    from app.services.context import Actor, ServiceContext
    from app.services.documents import DocumentTools, IdentityRef

__all__ = ["EXIT_INPUT", "EXIT_NOT_FOUND", "EXIT_RULE", "register"]
BatchKey = Annotated[str, typer.Option("--key", help="What the file name starts with: ipp, ins or identity")]

for _code, _en, _fr in (
    ("cli-cover-paths", "Give IN.pdf OUT.pdf, or OUT.pdf alone.",
     "Indiquez IN.pdf OUT.pdf, ou OUT.pdf seul."),
    ("cli-datamatrix-format", "--format is txt, png or svg; png and svg need --output.",
     "--format vaut txt, png ou svg ; png et svg demandent --output."),
    ("cli-batch-args", "--key is ipp, ins or identity, and OUT_DIR must differ from IN_DIR.",
     "--key vaut ipp, ins ou identity, et OUT_DIR doit différer de IN_DIR."),
    ("cli-written", "Written {path}", "Écrit : {path}"),
    ("cli-signed-kept", "Signed document: page 1 left untouched, cover page added.",
     "Document signé : page 1 laissée intacte, page de garde ajoutée."),
    ("cli-cannot-read", "cannot read: {reason}", "lecture impossible : {reason}"),
    ("cli-cannot-write", "cannot write: {reason}", "écriture impossible : {reason}"),
    ("cli-batch-summary", "{done} covered, {refused} refused, {failed} failed",
     "{done} couverts, {refused} refusés, {failed} en échec"),
):
    register_message(_code, _en, _fr)


def _runtime(settings: Settings) -> tuple[ServiceContext, DocumentTools, Actor]:
    """Service context, document tools and the operator as actor."""
    from app.db.engine import make_engine
    from app.services.context import Actor
    from app.wiring.context import build_context, build_document_tools, setup_logging

    setup_logging(settings.log_level)
    ctx = build_context(settings, make_engine(settings.database_url))
    actor = Actor(f"cli:{getpass.getuser()}", frozenset({"documents"}), kind="job")
    return ctx, build_document_tools(settings), actor


def _settings() -> Settings:
    from app.cli.core import load_settings

    return load_settings()


def _ref(identity: int | None, ipp: str | None, ins: str | None) -> IdentityRef:
    from app.services.documents import IdentityRef

    return IdentityRef(identity_id=identity, ipp=ipp, ins=ins)


def _reserve(target: Path) -> Path:
    """A temporary file beside TARGET: proves TARGET can be written before the INS is printed."""
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(folder))
    try:
        descriptor, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(target)) from None
    os.close(descriptor)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # the permissions a plain write would give (mkstemp gives 0600)
    return Path(name)


def _produce(target: Path, make: Callable[[], bytes]) -> None:
    """Write TARGET whole once made; its place is reserved first, nothing is left when anything fails.

    The use case logs "INS printed" once the document is rendered: reserving the output before
    means a missing or read-only folder stops the command before anything is printed.
    """
    part = _reserve(target)
    try:
        content = make()
        part.write_bytes(content)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


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
        raise usage_error("cli-cover-paths")
    settings = _settings()
    info = DocumentInfo(title, parse_date(document_date, "--date"), author, establishment)
    ref = _ref(identity, ipp, ins)
    try:
        source = paths[0].read_bytes() if len(paths) == 2 else None
        ctx, tools, actor = _runtime(settings)
        kept: list[bool] = []

        def make() -> bytes:
            if source is None:
                return documents.cover_page(ctx, tools, actor, ref, info)
            result = documents.stamp_document(ctx, tools, actor, source, ref, info, first_page=first_page)
            kept.append(bool(first_page) and not result.first_page_stamped)
            return result.pdf

        _produce(paths[-1], make)
    except DomainError as error:
        raise refused(error) from None
    except OSError as error:
        raise file_error(error) from None
    if any(kept):
        say("cli-signed-kept")
    typer.echo(render("cli-written", settings.language, path=paths[-1]))


def datamatrix(
    identity: Annotated[int, typer.Option("--identity", help="Identity id")],
    fmt: Annotated[str, typer.Option("--format", help="txt, png or svg")] = "txt",
    output: Annotated[Path | None, typer.Option(help="File to write (txt: standard output)")] = None,
    module_px: Annotated[int | None, typer.Option(min=1, max=40, help="PNG pixels per module")] = None,
) -> None:
    """The DataMatrix INS of a QUAL identity: payload text (GS shown <GS>), PNG or SVG."""
    from app.services import documents

    if fmt not in ("txt", "png", "svg") or (fmt != "txt" and output is None):
        raise usage_error("cli-datamatrix-format")
    settings = _settings()
    ctx, tools, actor = _runtime(settings)
    try:
        if output is None:
            typer.echo(documents.datamatrix(ctx, tools, actor, identity, "txt").decode("utf-8"))
            return
        suffix = b"\n" if fmt == "txt" else b""
        _produce(output, lambda: documents.datamatrix(ctx, tools, actor, identity, fmt, module_px) + suffix)
    except DomainError as error:
        raise refused(error) from None
    except OSError as error:
        raise file_error(error) from None


def cover_page_batch(
    in_dir: Annotated[Path, typer.Argument(help="Folder of PDFs named <key>_anything.pdf")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the covered PDFs (same names)")],
    key: BatchKey = "ipp",
    first_page: Annotated[
        bool | None, typer.Option("--first-page/--no-first-page", help="INS block on page 1")
    ] = None,
) -> None:
    """Cover every PDF of a folder; the identity is the file name's prefix before the first '_'."""
    if key not in ("ipp", "ins", "identity") or in_dir.resolve() == out_dir.resolve():
        raise usage_error("cli-batch-args")
    settings = _settings()
    try:
        files = sorted(p for p in in_dir.iterdir() if p.suffix.lower() == ".pdf" and p.is_file())
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise file_error(error) from None
    ctx, tools, actor = _runtime(settings)
    language = settings.language
    outcomes = _cover_all(files, lambda path: _one_file(ctx, tools, actor, path, out_dir, key, first_page,
                                                         language))
    counts = {outcome: len(lines) for outcome, lines in outcomes.items()}
    typer.echo(render("cli-batch-summary", language, **counts))
    if outcomes["refused"] or outcomes["failed"]:
        raise typer.Exit(1)


def _cover_all(
    files: list[Path], cover: Callable[[Path], tuple[str, str | None]]
) -> dict[str, list[str]]:
    """Cover each file with a progress bar on stderr; the refused and failed ones listed after."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    outcomes: dict[str, list[str]] = {"done": [], "refused": [], "failed": []}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("cover pages", total=len(files))
        for path in files:
            outcome, reason = cover(path)
            outcomes[outcome].append(f"{path.name}: {reason}" if reason else path.name)
            progress.advance(task)
    for outcome in ("refused", "failed"):
        for line in outcomes[outcome]:
            console.print(f"[{outcome}] {line}", markup=False)
    return outcomes


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
    if key == "identity":
        ref = _ref(int(prefix) if prefix.isdigit() else -1, None, None)
    else:
        ref = _ref(None, prefix if key == "ipp" else None, prefix if key == "ins" else None)
    try:
        pdf = path.read_bytes()
    except OSError as error:
        return "failed", render("cli-cannot-read", language, reason=file_reason(error, language))
    try:
        _produce(out_dir / path.name, lambda: documents.stamp_document(
            ctx, tools, actor, pdf, ref, DocumentInfo(title=None), first_page=first_page).pdf)
    except RuleViolation as error:
        return "refused", f"{error.code}: {error.message(language)}"
    except DomainError as error:
        return "failed", f"{error.code}: {error.message(language)}"
    except OSError as error:
        return "failed", render("cli-cannot-write", language, reason=file_reason(error, language))
    return "done", None


def register(cli: typer.Typer) -> None:
    """Add the document commands to the main command line."""
    cli.command("cover-page")(cover_page)
    cli.command("datamatrix")(datamatrix)
    cli.command("cover-page-batch")(cover_page_batch)
