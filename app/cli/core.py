"""Command line: the `identito` application, and serve, demo, db, token (other commands are
added by their own modules of this package).

Every command except `serve` also reads the settings `identito demo` leaves in
``var/demo-settings.env`` (app.demo_settings), under the environment variables; errors end as one
line and an exit code (app.cli.errors).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from app.cli.errors import EXIT_INPUT, demo_file_notice, say, set_language, usage_error
from app.config import Settings, development_settings
from app.domain.messages import register
from app.wiring.context import setup_logging

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

register("cli-settings-invalid", "Invalid configuration:", "Configuration invalide :")
register("cli-settings-file", "CLI settings   : {path} (read by identito token, campaign run, datamatrix...)",
         "Réglages CLI   : {path} (lus par identito token, campaign run, datamatrix...)")
register("cli-token-refused", "Refused: {detail}", "Refusé : {detail}")
register("cli-revision", "Unknown or inapplicable revision '{revision}' (identito db current shows the "
         "database's and the code's).", "Révision « {revision} » inconnue ou inapplicable (identito db "
         "current montre celle de la base et celle du code).")

cli = typer.Typer(help="Identito: INS identity qualification service.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_cli = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def load_settings(*, demo_file: bool = True) -> Settings:
    """Settings from the environment (and the running demo's file), or a clear message and exit 2."""
    from app.demo_settings import command_line_settings, find_demo_file

    demo = find_demo_file() if demo_file else None
    try:
        settings = command_line_settings(demo)
    except ValidationError as exc:
        if demo is not None:
            demo_file_notice(demo)
        lines = [f"  - {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()]
        say("cli-settings-invalid")
        typer.echo("\n".join(lines), err=True)
        raise typer.Exit(EXIT_INPUT) from None
    set_language(settings.language)
    if demo is not None:
        demo_file_notice(demo)
    return settings


class DropQueryString(logging.Filter):
    """Access logs keep the path only: query strings carry search traits (names, dates, INS)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        return True


def checked_context():  # type: ignore[no-untyped-def]
    """Settings and a service context for a command that works on the database, once the schema
    is known to be current (otherwise: one line saying which command to run, exit code 3)."""
    from app.db.engine import make_engine
    from app.db.migrations import SchemaBehind, check_schema
    from app.wiring.context import build_context

    settings = load_settings()
    setup_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaBehind as exc:
        typer.echo(f"Refusing to start: {exc}", err=True)
        raise typer.Exit(3) from None
    return settings, build_context(settings, engine)


def uvicorn_log_config() -> dict[str, object]:
    """uvicorn's logging, with query strings dropped from access logs (every worker)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["drop_query"] = {"()": "app.cli.core.DropQueryString"}
    config["handlers"]["access"]["filters"] = ["drop_query"]
    return config


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run the API with the settings from the environment (schema must be up to date)."""
    import uvicorn

    # The production entry point: never takes settings from a demo's file.
    settings = load_settings(demo_file=False)
    setup_logging(settings.log_level)
    from app.db.engine import make_engine
    from app.db.migrations import SchemaBehind, check_schema

    try:
        check_schema(make_engine(settings.database_url))
    except SchemaBehind as exc:
        typer.echo(f"Refusing to start: {exc}", err=True)
        raise typer.Exit(3) from None
    uvicorn.run("app.main:create_served_app", factory=True, host=host, port=port, workers=workers,
                log_config=uvicorn_log_config(),
                log_level=settings.log_level.lower())


@cli.command()
def demo(
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
) -> None:
    """Run everything on this laptop: SQLite under ./var, migrations, demo data, dev tokens."""
    import uvicorn

    from app.simulator.server import SimulatorServer

    simulator = SimulatorServer().start()
    settings = development_settings(public_url=f"http://{host}:{port}",
                                    insi={"endpoint": simulator.url, "simulator": True})
    setup_logging(settings.log_level)
    set_language(settings.language)
    app, stop_workers = start_demo(settings, simulator.url)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info",
                                           log_config=uvicorn_log_config()))
    withdraw = publish_demo_settings(server, settings)
    try:
        server.run()
    finally:
        withdraw()
        stop_workers()
        simulator.stop()
    if not server.started:
        raise typer.Exit(3)
    # Stopped by Ctrl-C / SIGTERM: the conventional 130, whether or not uvicorn raised the signal
    # again (it does not when a request was still running at the end of its graceful shutdown).
    raise typer.Exit(130)


def start_demo(settings: Settings, simulator_url: str) -> tuple[FastAPI, Callable[[], None]]:
    """Migrate, seed, start the worker jobs and HL7 threads, print the banner; the app and a stop."""
    from app.api.auth import issue_dev_token
    from app.db.migrations import upgrade
    from app.main import create_app
    from app.services.demo import seed_demo
    from app.wiring.context import build_context
    from app.workers.audit import AuditSealer
    from app.workers.campaigns import CampaignRunner
    from app.workers.duplicates import DuplicateWorker
    from app.workers.name_counts import NameCountFolder

    upgrade(settings.database_url)
    ctx = build_context(settings)
    created = seed_demo(ctx)
    app = create_app(settings, ctx=ctx)
    runner = CampaignRunner(ctx, settings.qualification)
    worker = threading.Thread(target=runner.run_forever, name="campaign-worker", daemon=True)
    worker.start()
    # duplicate detection and scans, the audit sealer, the count folder: as ``identito worker`` runs them
    jobs = ExitStack()
    jobs.enter_context(DuplicateWorker(ctx, settings.duplicates, runner.stop).running())
    jobs.enter_context(AuditSealer(ctx, runner.stop).running())
    jobs.enter_context(NameCountFolder(ctx, runner.stop).running())
    stop_hl7 = start_hl7_thread(ctx, settings)
    roles = ["admission", "identitovigilance", "documents", "admin"]
    token = issue_dev_token(settings.auth, "demo-agent", roles)
    typer.echo(
        f"\nIdentito demo ({settings.database_url}, {created} demo identities created)\n"
        f"  API docs       : {settings.public_url}/docs\n"
        f"  Health         : {settings.public_url}/health\n"
        f"  INSi simulator : {simulator_url} (public INSi test persons)\n"
        f"  HL7 MLLP in    : {settings.hl7.listen_host}:{settings.hl7.listen_port} (PAM FR from the GAM)\n"
        f"  Token          : {token}\n"
        f"  Try            : curl -H 'Authorization: Bearer <token>' "
        f"'{settings.public_url}/identities?birth_name=adr'\n"
    )

    def stop() -> None:
        runner.stop.set()  # calls on the wire finish; the other claimed items go back to pending
        worker.join(settings.insi.timeout_seconds + 5)
        jobs.close()
        stop_hl7()

    return app, stop


def publish_demo_settings(server: uvicorn.Server, settings: Settings) -> Callable[[], None]:
    """Write the demo settings file once the API listens; returns what removes it."""
    from app.demo_settings import remove_demo_settings, write_demo_settings

    written: list[tuple[Path, str]] = []

    def publish() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if server.started and not server.should_exit:
            path, text = write_demo_settings(settings)
            written.append((path, text))
            say("cli-settings-file", path=str(path))

    thread = threading.Thread(target=publish, name="demo-settings", daemon=True)
    thread.start()

    def withdraw() -> None:
        server.should_exit = True
        thread.join(5)
        for path, text in written:
            remove_demo_settings(path, text)

    return withdraw


def start_hl7_thread(ctx, settings: Settings):  # type: ignore[no-untyped-def]
    """Run the MLLP listener, the outbox relay and the replay jobs on an event loop in a thread."""
    import asyncio

    from app.workers.mllp_listener import serve_mllp
    from app.workers.relay import Relay
    from app.workers.replay import run_replays

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def listen() -> None:
        try:
            await serve_mllp(ctx, settings, stop)
        except OSError as exc:
            logging.getLogger("identito").warning(
                "MLLP listener not started (%s): set IDENTITO_HL7__LISTEN_PORT to a free port", exc.strerror)

    async def main() -> None:
        await asyncio.gather(listen(), Relay(ctx, settings).run(stop),
                             run_replays(ctx, stop, settings.hl7.replay_rate_per_second))

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), name="hl7", daemon=True)
    thread.start()

    def stop_all() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)

    return stop_all


@cli.command()
def token(
    role: Annotated[list[str], typer.Option("--role", help="Role (repeat for several)")],
    sub: Annotated[str, typer.Option("--sub", help="Token subject (the agent's login)")] = "dev-user",
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds")] = 8 * 3600,
) -> None:
    """Print a development token (refused unless the development key is configured)."""
    from app.api.auth import issue_dev_token

    settings = load_settings()
    try:
        typer.echo(issue_dev_token(settings.auth, sub, role, ttl))
    except (RuntimeError, ValueError) as exc:
        raise usage_error("cli-token-refused", detail=str(exc)) from None


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations."""
    from app.db.migrations import upgrade

    settings = load_settings()
    with _known_revision(revision):
        upgrade(settings.database_url, revision)
    typer.echo(f"Database upgraded to {revision}.")


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to a revision ('base' for an empty schema)."""
    from app.db.migrations import downgrade

    settings = load_settings()
    with _known_revision(revision):
        downgrade(settings.database_url, revision)
    typer.echo(f"Database downgraded to {revision}.")


@contextmanager
def _known_revision(revision: str) -> Iterator[None]:
    """An unknown or inapplicable Alembic revision as one line and exit 2."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError:
        raise usage_error("cli-revision", revision=revision[:40]) from None


@db_cli.command("current")
def db_current() -> None:
    """Show the database revision and the code's head."""
    from app.db.engine import make_engine
    from app.db.migrations import current_revision, head_revision

    engine = make_engine(load_settings().database_url)
    typer.echo(f"database: {current_revision(engine) or 'empty'}\ncode head: {head_revision()}")


def _register_insi_simulator() -> None:
    from app.simulator.cli import insi_simulator

    cli.command("insi-simulator")(insi_simulator)


_register_insi_simulator()
