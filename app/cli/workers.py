"""Commands of the workers: `identito worker` and `identito campaign ...`."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from app.domain.messages import register as register_message
from app.domain.messages import render

register_message(
    "campaign-stopped",
    "Campaign {id} stopped: {done}/{total} done, the others stay pending. "
    "Resume it with: identito campaign run --resume {id} (or let identito worker take it up).",
    "Campagne {id} arrêtée : {done}/{total} traitées, les autres restent en attente. "
    "Pour la reprendre : identito campaign run --resume {id} (ou laissez identito worker la reprendre).")

ResumeOption = Annotated[int | None, typer.Option(help="Resume this campaign id instead of creating one")]
campaign_cli = typer.Typer(help="Batch INSi campaigns (INSI-AUTO certificate).", no_args_is_help=True)


def _runtime():  # type: ignore[no-untyped-def]
    from app.cli.core import checked_context
    from app.wiring.context import build_insi_gateway
    from app.workers.campaigns import CampaignRunner

    settings, ctx = checked_context()
    ctx.insi_gateway = build_insi_gateway(settings, ctx)
    return settings, ctx, CampaignRunner(ctx, settings.qualification)


def _stop_on_signals(runner) -> None:  # type: ignore[no-untyped-def]
    """A stop lets calls on the wire finish and puts every other held item back to pending."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop.set())


def _say_if_stopped(settings, ctx, runner, campaign_id: int, status: str) -> None:  # type: ignore[no-untyped-def]
    """After a stop, say that the campaign is not done and how to resume it."""
    from app.services import campaigns
    from app.services.campaigns import CampaignStatus
    from app.services.context import Actor

    if runner.stop.is_set() and status == CampaignStatus.RUNNING.value:
        p = campaigns.progress(ctx, Actor("cli", frozenset({"identitovigilance"})), campaign_id)
        typer.echo(render("campaign-stopped", settings.language, id=campaign_id, done=p.done, total=p.total))


def worker(
    campaign: Annotated[int | None, typer.Option(help="Run only this campaign, then exit")] = None,
) -> None:
    """Run the background jobs: INSi campaigns, duplicate detection after every identity change, full
    duplicate scans, the audit trail's sealing, the folding of the name-prefix counts (until stopped with
    SIGTERM/Ctrl-C)."""
    from app.workers.audit import AuditSealer
    from app.workers.duplicates import DuplicateWorker
    from app.workers.name_counts import NameCountFolder

    settings, ctx, runner = _runtime()
    _stop_on_signals(runner)
    if campaign is not None:
        status = runner.run_campaign(campaign)
        typer.echo(f"campaign {campaign}: {status}")
        _say_if_stopped(settings, ctx, runner, campaign, status)
        return
    duplicates, sealer = DuplicateWorker(ctx, settings.duplicates, runner.stop), AuditSealer(ctx, runner.stop)
    folder = NameCountFolder(ctx, runner.stop)
    with duplicates.running(), sealer.running(), folder.running():
        runner.run_forever()


@campaign_cli.command("run")
def run(
    name: Annotated[str, typer.Option(help="Campaign name")] = "command-line campaign",
    operation: Annotated[str, typer.Option(help="retrieve or verify")] = "retrieve",
    eligible: Annotated[bool, typer.Option(help="All PROV and VALI identities with eligible traits")] = False,
    status: Annotated[list[str] | None, typer.Option(help="Status to select (repeatable)")] = None,
    ids: Annotated[str | None, typer.Option(help="Comma-separated identity ids")] = None,
    older_than_days: Annotated[int | None, typer.Option(help="Last INSi call older than N days")] = None,
    auto_apply: Annotated[bool, typer.Option(help="Apply exact matches automatically")] = False,
    rate: Annotated[float | None, typer.Option(help="Calls per second (0: unlimited)")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Concurrent calls")] = None,
    resume: ResumeOption = None,
) -> None:
    """Create (or resume) a campaign and run it here with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from app.cli.errors import parse_ids
    from app.services import campaigns
    from app.services.campaigns import Selection
    from app.services.context import Actor

    selected_ids = parse_ids(ids, "--ids")
    settings, ctx, runner = _runtime()
    _stop_on_signals(runner)
    actor = Actor("cli", frozenset({"identitovigilance"}), kind="job")
    q = settings.qualification
    if resume is None:
        selection = Selection(tuple(status or ()), selected_ids, older_than_days, eligible)
        created = campaigns.create_campaign(
            ctx, actor, name=name, operation=operation, selection=selection, auto_apply=auto_apply,
            rate_limit=rate if rate is not None else q.campaign_rate_limit,
            concurrency=concurrency or q.campaign_concurrency)
        campaign_id = created.id
    else:
        campaign_id = resume
    start = campaigns.progress(ctx, actor, campaign_id)
    columns = (TextColumn("[bold]campaign {task.fields[cid]}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("run", total=start.total, completed=start.done, cid=campaign_id)
        final = runner.run_campaign(campaign_id, on_item=lambda: bar.advance(task))
    end = campaigns.progress(ctx, actor, campaign_id)
    typer.echo(f"campaign {campaign_id}: {final}, {end.done}/{end.total} done")
    for outcome, count in sorted(end.outcomes.items()):
        typer.echo(f"  {outcome:<16} {count}")
    _say_if_stopped(settings, ctx, runner, campaign_id, final)


@campaign_cli.command("status")
def status_command(campaign_id: int) -> None:
    """Show a campaign's progress."""
    from app.services import campaigns
    from app.services.context import Actor

    _settings, ctx, _runner = _runtime()
    p = campaigns.progress(ctx, Actor("cli", frozenset({"identitovigilance"})), campaign_id)
    typer.echo(f"campaign {p.id} ({p.operation}, {p.status}): {p.done}/{p.total}, in flight {p.in_flight}")
    for outcome, count in sorted(p.outcomes.items()):
        typer.echo(f"  {outcome:<16} {count}")


def register(cli: typer.Typer) -> None:
    """Add the worker commands to the main command line."""
    from app.cli.audit import audit_cli
    from app.cli.duplicates import duplicates_cli

    cli.command("worker")(worker)
    cli.add_typer(audit_cli, name="audit")
    cli.add_typer(campaign_cli, name="campaign")
    cli.add_typer(duplicates_cli, name="duplicates")
