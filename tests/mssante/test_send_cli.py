"""`identito mss send / status / list / retry` on a real database and real files."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from app.cli.errors import EXIT_INPUT, EXIT_RULE
from app.cli.mss import mss_cli
from tests.api.test_documents_api import create
from tests.documents_support import sample_pdf

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli(settings, monkeypatch) -> typer.Typer:
    for name, value in {
        "IDENTITO_ENVIRONMENT": "development",
        "IDENTITO_DATABASE_URL": settings.database_url,
        "IDENTITO_AUTH__SECRET": settings.auth.secret,
        "IDENTITO_AUTH__DEV_TOKENS": "true",
        "IDENTITO_LANGUAGE": "fr",
    }.items():
        monkeypatch.setenv(name, value)
    app = typer.Typer()
    app.add_typer(mss_cli, name="mss")
    return app


def invoke(cli, *args: str):
    return CliRunner().invoke(cli, list(args))


def test_send_prints_a_tracking_id_and_status_shows_each_recipient(cli, client, settings, tmp_path) -> None:
    identity_id = create(client, settings)
    pdf = tmp_path / "lettre.pdf"
    pdf.write_bytes(sample_pdf(1))
    sent = invoke(
        cli,
        "mss",
        "send",
        str(pdf),
        "--identity",
        str(identity_id),
        "--title",
        "Lettre de liaison",
        "--to",
        "dr.martin@medecin.mssante.fr",
        "--to",
        "sec@ch.mssante.fr",
    )
    assert sent.exit_code == 0, sent.output
    tracking = sent.output.strip()
    shown = invoke(cli, "mss", "status", tracking)
    assert shown.exit_code == 0, shown.output
    assert f"{tracking}  pending  identity {identity_id}" in shown.output
    assert (
        "dr.martin@medecin.mssante.fr  pending" in shown.output
        and "sec@ch.mssante.fr  pending" in shown.output
    )
    assert tracking in invoke(cli, "mss", "list", "--state", "pending").output
    again = invoke(cli, "mss", "retry", tracking)
    assert again.exit_code == 1 and "seul un message abandonné (dead) peut être renvoyé" in again.output


def test_refusals_say_why_in_french_and_write_nothing(cli, client, settings, tmp_path) -> None:
    identity_id = create(client, settings, "PROV")
    pdf = tmp_path / "lettre.pdf"
    pdf.write_bytes(sample_pdf(1))
    base = ["mss", "send", str(pdf), "--identity", str(identity_id), "--title", "Lettre"]
    not_qual = invoke(cli, *base, "--to", "dr@medecin.mssante.fr")
    assert not_qual.exit_code == EXIT_RULE and "non qualifiée" in not_qual.output
    foreign = invoke(cli, *base, "--to", "x@gmail.com")
    assert (
        foreign.exit_code == EXIT_RULE
        and "hors de l'espace de confiance MSSanté (gmail.com)" in foreign.output
    )
    missing = invoke(
        cli,
        "mss",
        "send",
        str(tmp_path / "absent.pdf"),
        "--identity",
        "1",
        "--title",
        "T",
        "--to",
        "dr@medecin.mssante.fr",
    )
    assert missing.exit_code == EXIT_INPUT
    assert invoke(cli, "mss", "list").output == ""
