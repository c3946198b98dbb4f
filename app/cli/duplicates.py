"""`identito duplicates ...`: run a full scan here with a progress bar, check the queued changes,
rebuild the match keys, show a scan."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from typing import Annotated

import typer

from app.domain.messages import register, render

register("duplicates-scan-stopped",
         "Scan {id} stopped after {done}/{total} identities; its pairs so far are recorded. "
         "Resume it with: identito duplicates scan --resume {id} (or let identito worker take it up).",
         "Scan {id} arrêté après {done}/{total} identités ; ses paires trouvées sont enregistrées. "
         "Pour le reprendre : identito duplicates scan --resume {id} "
         "(ou laissez identito worker le reprendre).")
register("duplicates-scan-done",
         "Scan {id} done: {total} identities, {comparisons} pairs compared, {found} pairs found, {alerts} "
         "probable or certain (worklist items).",
         "Scan {id} terminé : {total} identités, {comparisons} paires comparées, {found} paires trouvées "
         "dont {alerts} probables ou certaines (éléments de liste de travail).")

duplicates_cli = typer.Typer(help="Duplicate detection: full scan, queued checks, match keys.",
                             no_args_is_help=True)
CELL = frozenset({"identitovigilance"})


def _runtime():  # type: ignore[no-untyped-def]
    from app.cli.core import checked_context

    return checked_context()


@duplicates_cli.command("scan")
def scan(
    resume: Annotated[int | None, typer.Option(help="Resume this scan id instead of starting one")] = None,
) -> None:
    """Run a full duplicate scan here, with a progress bar (Ctrl-C stops it, resumable)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from app.services import duplicate_scan
    from app.services.context import Actor

    settings, ctx = _runtime()
    actor = Actor("cli", CELL, kind="job")
    runner = f"cli:{socket.gethostname()}:{os.getpid()}"
    if resume is None:
        job = duplicate_scan.start_scan(ctx, actor, runner)
    else:
        job = duplicate_scan.resume_scan(ctx, actor, resume, runner, settings.duplicates.scan_lease_seconds)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    columns = (TextColumn("[bold]scan {task.fields[sid]}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("scan", total=job.identities_total or None, completed=job.identities_done,
                            sid=job.id)

        def progress(current: duplicate_scan.ScanJob) -> None:
            bar.update(task, total=current.identities_total, completed=current.identities_done)

        final = duplicate_scan.run_scan(ctx, job.id, runner, chunk=settings.duplicates.scan_chunk,
                                        processes=settings.duplicates.scan_processes, stop=stop.is_set,
                                        on_progress=progress)
    if final.status == "done":
        typer.echo(render("duplicates-scan-done", settings.language, id=final.id,
                          total=final.identities_total, comparisons=final.comparisons,
                          found=final.pairs_found, alerts=final.pairs_alert))
        for name in ("load_seconds", "group_seconds", "score_seconds", "groups", "capped_groups",
                     "capped_identities"):
            typer.echo(f"  {name:<18} {final.figures.get(name)}")
    else:
        typer.echo(render("duplicates-scan-stopped", settings.language, id=final.id,
                          done=final.identities_done, total=final.identities_total))
    ctx.engine.dispose()
    _leave()


def _leave() -> None:
    """End the process now that the scan is recorded and said: a scan leaves every identity's match
    record in memory, and the interpreter's teardown would free them one by one (2 s at 100,000
    identities, several at a million) for nothing. Output and logs are flushed first."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@duplicates_cli.command("status")
def status(scan_id: int) -> None:
    """Show a scan's progress and figures."""
    from app.services import duplicate_scan
    from app.services.context import Actor

    _settings, ctx = _runtime()
    job = duplicate_scan.scan_status(ctx, Actor("cli", CELL, kind="job"), scan_id)
    typer.echo(f"scan {job.id} ({job.status}): {job.identities_done}/{job.identities_total} identities, "
               f"{job.comparisons} compared, {job.pairs_found} found, {job.pairs_alert} probable or certain")
    for name, value in sorted(job.figures.items()):
        typer.echo(f"  {name:<18} {value}")


@duplicates_cli.command("check")
def check() -> None:
    """Check every queued identity change now (what the worker does continuously)."""
    from app.services import duplicates

    settings, ctx = _runtime()
    handled = duplicates.check_all_pending(ctx, batch=settings.duplicates.check_batch)
    typer.echo(f"{handled} changes checked")


@duplicates_cli.command("keys")
def keys() -> None:
    """Compute the match keys of every identity again (once after upgrading to duplicate detection)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from app.services import duplicates, queries
    from app.services.context import Actor

    _settings, ctx = _runtime()
    actor = Actor("cli", CELL, kind="job")
    total = sum(queries.identity_counts(ctx).values())
    with Progress(TextColumn("[bold]match keys"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("keys", total=total)
        keyed = duplicates.rebuild_keys(ctx, actor, on_batch=lambda n: bar.advance(task, n))
    typer.echo(f"{keyed} identities keyed")
