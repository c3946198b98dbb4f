"""CLI commands of the HL7 integration: `identito mllp-listen` and `identito relay`."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from app.cli.core import cli, load_settings
from app.wiring.context import setup_logging


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


@cli.command("relay")
def relay(
    replays: Annotated[bool, typer.Option(help="Also run the replay jobs (one process should)")] = True,
) -> None:
    """Deliver the outbox to the subscribers over MLLP (several relays may run on PostgreSQL)."""
    from app.wiring.context import build_context
    from app.workers.relay import Relay
    from app.workers.replay import run_replays

    settings = load_settings()
    setup_logging(settings.log_level)
    ctx = build_context(settings)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        tasks = [Relay(ctx, settings).run(stop)]
        if replays:
            tasks.append(run_replays(ctx, stop, settings.hl7.replay_rate_per_second))
        await asyncio.gather(*tasks)

    asyncio.run(main())


@cli.command("mllp-listen")
def mllp_listen(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default: IDENTITO_HL7__LISTEN_HOST)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: IDENTITO_HL7__LISTEN_PORT)")] = None,
    processes: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes for parsing and database work, e.g. 2 on PostgreSQL "
                                 "(default: IDENTITO_HL7__INBOUND_PROCESSES, 1)"),
    ] = None,
) -> None:
    """Receive PAM FR identity messages from the GAM over MLLP and acknowledge them after commit."""
    from app.wiring.context import build_context
    from app.workers.mllp_listener import serve_mllp

    settings = load_settings()
    if processes is not None:
        settings = settings.model_copy(
            update={"hl7": settings.hl7.model_copy(update={"inbound_processes": processes})}
        )
    setup_logging(settings.log_level)
    ctx = build_context(settings)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await serve_mllp(ctx, settings, stop, host=host, port=port)

    asyncio.run(main())
