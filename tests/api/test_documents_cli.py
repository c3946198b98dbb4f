"""The document commands: cover-page, datamatrix, cover-page-batch (real database, real files)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from app.cli.documents import EXIT_NOT_FOUND, EXIT_RULE, register
from app.domain.datamatrix import GS
from tests.api.test_documents_api import DUPONT, MATRICULE, PAYLOAD, create
from tests.conftest import auth
from tests.documents_support import run, sample_pdf

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli(settings, monkeypatch) -> typer.Typer:
    """The document commands with settings from the environment, as in production."""
    for name, value in {
        "IDENTITO_ENVIRONMENT": "development",
        "IDENTITO_DATABASE_URL": settings.database_url,
        "IDENTITO_AUTH__SECRET": settings.auth.secret,
        "IDENTITO_AUTH__DEV_TOKENS": "true",
        "IDENTITO_LANGUAGE": "en",
        "IDENTITO_ESTABLISHMENT_NAME": "CH de la ligne de commande",
    }.items():
        monkeypatch.setenv(name, value)
    app = typer.Typer()
    register(app)
    return app


def invoke(cli, *args: str):
    return CliRunner().invoke(cli, list(args))


def test_cover_page_stamps_a_file(cli, client, settings, tmp_path) -> None:
    identity_id = create(client, settings)
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    source.write_bytes(sample_pdf(3))
    result = invoke(
        cli, "cover-page", "--identity", str(identity_id), "--title", "Lettre", str(source), str(target)
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(source.read_bytes())
    text = run("pdftotext", "-f", "1", "-l", "1", target, "-")
    assert "2 75 12 63 220 749 74" in text and "CH de la ligne de commande" in text and "Lettre" in text


def test_cover_page_alone_by_ins(cli, client, settings, tmp_path) -> None:
    create(client, settings)
    result = invoke(cli, "cover-page", "--ins", MATRICULE, str(tmp_path / "cover.pdf"))
    assert result.exit_code == 0, result.output
    assert "Pages:           1" in run("pdfinfo", tmp_path / "cover.pdf")


def test_datamatrix_formats(cli, client, settings, tmp_path) -> None:
    identity_id = create(client, settings)
    text = invoke(cli, "datamatrix", "--identity", str(identity_id))
    assert text.exit_code == 0 and text.output.strip() == PAYLOAD.replace(GS, "<GS>")
    png = invoke(
        cli,
        "datamatrix",
        "--identity",
        str(identity_id),
        "--format",
        "png",
        "--output",
        str(tmp_path / "s.png"),
    )
    assert png.exit_code == 0 and (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("status", "attributes"), [("PROV", ""), ("RECUP", ""), ("VALI", ""), ("PROV", "FICT")]
)
def test_non_qual_identity_is_refused(cli, client, settings, tmp_path, status, attributes) -> None:
    identity_id = create(client, settings, status, attributes)
    source = tmp_path / "in.pdf"
    source.write_bytes(sample_pdf(1))
    stamped = invoke(
        cli, "cover-page", "--identity", str(identity_id), str(source), str(tmp_path / "out.pdf")
    )
    matrix = invoke(cli, "datamatrix", "--identity", str(identity_id))
    for result in (stamped, matrix):
        assert result.exit_code == EXIT_RULE
        assert "Refused (ins-" in result.output
    assert not (tmp_path / "out.pdf").exists()


def test_unknown_identity(cli, client, settings) -> None:
    assert invoke(cli, "datamatrix", "--identity", "999").exit_code == EXIT_NOT_FOUND


def test_batch_over_a_folder(cli, client, settings, tmp_path) -> None:
    qual = create(client, settings)
    prov = create(client, settings, "PROV", body={**DUPONT, "birth_name": "Durand"})
    admission = auth(settings, "admission")
    ipp_of = {i: client.get(f"/identities/{i}", headers=admission).json()["ipp"] for i in (qual, prov)}
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / f"{ipp_of[qual]}_report.pdf").write_bytes(sample_pdf(2))
    (source / f"{ipp_of[qual]}_letter.pdf").write_bytes(sample_pdf(1))
    (source / f"{ipp_of[prov]}_report.pdf").write_bytes(sample_pdf(1))
    (source / "UNKNOWN_x.pdf").write_bytes(sample_pdf(1))
    (source / f"{ipp_of[qual]}_broken.pdf").write_bytes(b"%PDF-1.4 nothing")
    result = invoke(cli, "cover-page-batch", str(source), str(target))
    assert result.exit_code == 1
    assert "2 covered, 1 refused, 2 failed" in result.output
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [f"{ipp_of[qual]}_letter.pdf", f"{ipp_of[qual]}_report.pdf"]
    )
    assert (
        "ins-not-qualified" in result.output
        and "not-found" in result.output
        and "document-rejected" in result.output
    )
