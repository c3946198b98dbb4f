"""``identito insi-simulator``: serve the INSi simulator (development, tests, training)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Annotated

import typer

from app.simulator.app import Behaviour
from app.simulator.server import TlsFiles, run_simulator


def insi_simulator(
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (the default client endpoint is 8081)")] = 8081,
    personas: Annotated[
        Path | None, typer.Option(help="Persona JSON file (default: the public test persons)")
    ] = None,
    idam: Annotated[
        list[str], typer.Option("--idam", help="Known IDAM (repeat); none given: IDENTITO-DEV")
    ] = [],  # noqa: B006
    any_idam: Annotated[bool, typer.Option(help="Accept any IDAM")] = False,
    dialect: Annotated[str, typer.Option(help="Answer shapes: current or legacy")] = "current",
    latency_ms: Annotated[float, typer.Option(help="Fixed latency of every answer")] = 0.0,
    fault_rate: Annotated[float, typer.Option(help="Share of calls answered with --fault-kind")] = 0.0,
    fault_kind: Annotated[str, typer.Option(help="unavailable, technical or timeout")] = "unavailable",
    tls_cert: Annotated[Path | None, typer.Option(help="Server certificate (PEM): serve HTTPS")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Server key (PEM)")] = None,
    client_ca: Annotated[
        Path | None, typer.Option(help="CA of accepted client certificates (mutual TLS)")
    ] = None,
) -> None:
    """Serve the INSi simulator: same contract as the teleservice, answers from a persona file."""
    if dialect not in ("current", "legacy") or fault_kind not in ("unavailable", "technical", "timeout"):
        typer.echo("dialect must be current|legacy and fault-kind unavailable|technical|timeout", err=True)
        raise typer.Exit(2)
    if (tls_cert is None) != (tls_key is None):
        typer.echo("--tls-cert and --tls-key go together", err=True)
        raise typer.Exit(2)
    for path in (personas, tls_cert, tls_key, client_ca):
        if path is not None and not path.is_file():
            from app.cli.errors import file_error

            raise file_error(FileNotFoundError(errno.ENOENT, "not a file", str(path)))
    behaviour = Behaviour(
        known_idams=None if any_idam else (list(idam) or ["IDENTITO-DEV"]),
        dialect=dialect,  # type: ignore[arg-type]
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        fault_kind=fault_kind,
    )
    tls = TlsFiles(tls_cert, tls_key, client_ca) if tls_cert and tls_key else None
    scheme = "https" if tls else "http"
    typer.echo(f"INSi simulator on {scheme}://{host}:{port}/lps (Ctrl-C to stop)")
    run_simulator(host=host, port=port, personas=personas, behaviour=behaviour, tls=tls)
