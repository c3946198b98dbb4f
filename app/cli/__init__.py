"""The `identito` command line: ``core`` holds the application and serve, demo, db, token;
``hl7``, ``documents`` and ``workers`` add their commands; ``errors`` turns failures into one line."""

from __future__ import annotations


def main() -> None:
    """Console script entry point."""
    from app.cli import hl7  # noqa: F401  (registers mllp-listen and relay)
    from app.cli.core import cli
    from app.cli.documents import register as register_documents
    from app.cli.errors import run_cli
    from app.cli.mss import mss_cli
    from app.cli.workers import register as register_workers

    register_workers(cli)
    register_documents(cli)
    cli.add_typer(mss_cli, name="mss")
    run_cli(cli)
