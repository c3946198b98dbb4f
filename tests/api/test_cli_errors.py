"""Command-line errors as a user sees them: one French line, exit code 2, never a traceback;
and a print that failed is never logged as "INS printed" (real `identito` processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from tests.api.test_documents_api import create
from tests.cli_support import clean_env, identito, identito_all
from tests.documents_support import sample_pdf


def _env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """Development settings from the environment, French (the default language)."""
    return clean_env(
        IDENTITO_ENVIRONMENT="development",
        IDENTITO_DATABASE_URL=settings.database_url,
        IDENTITO_AUTH__SECRET=settings.auth.secret or "",
        IDENTITO_AUTH__DEV_TOKENS="true",
        IDENTITO_VAR_DIR=str(tmp_path / "var"),
    )


BAD_INPUT = [
    (["cover-page", "--identity", "1", "--date", "2024-13-45", "out.pdf"],
     "Date invalide pour --date : « 2024-13-45 » (attendu AAAA-MM-JJ)."),
    (["cover-page", "--identity", "1", "missing.pdf", "out.pdf"],
     "« missing.pdf » : fichier ou dossier introuvable."),
    (["cover-page-batch", "no-such-folder", "out"], "« no-such-folder » : fichier ou dossier introuvable."),
    (["datamatrix", "--identity", "abc"],
     "Valeur invalide pour --identity (aide : identito datamatrix --help)."),
    (["datamatrix", "--identity", "1", "--format", "png", "--output", "no-such-folder/s.png"],
     "« no-such-folder » : fichier ou dossier introuvable."),
    (["campaign", "run", "--ids", "1,x"],
     "Identifiants invalides pour --ids : « 1,x » (nombres entiers séparés par des virgules)."),
    (["insi-simulator", "--personas", "missing.json", "--port", "1"],
     "« missing.json » : fichier ou dossier introuvable."),
    (["db", "downgrade", "no-such-revision"],
     "Révision « no-such-revision » inconnue ou inapplicable (identito db current montre celle de la base "
     "et celle du code)."),
    (["token", "--role", "admission", "--ttl", "0"],
     "Valeur invalide pour --ttl (aide : identito token --help)."),
]


BAD_DATABASE = [
    ("not a database URL", 2, "IDENTITO_DATABASE_URL n'est pas une URL de base de données utilisable."),
    ("postgresql+psycopg://nobody@127.0.0.1:1/identito", 1,
     "Base de données injoignable (OperationalError) : vérifiez IDENTITO_DATABASE_URL et le serveur."),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_input_is_one_french_line_never_a_traceback(settings: Settings, tmp_path: Path) -> None:
    env = _env(settings, tmp_path)
    commands = [args for args, _ in BAD_INPUT] + [["datamatrix", "--identity", "1"]] * len(BAD_DATABASE)
    envs = [env] * len(BAD_INPUT) + [{**env, "IDENTITO_DATABASE_URL": url} for url, _, _ in BAD_DATABASE]
    results = identito_all(commands, cwd=tmp_path, env=env, envs=envs)
    expected = [(2, line) for _, line in BAD_INPUT] + [(code, line) for _, code, line in BAD_DATABASE]
    for args, (code, line), result in zip(commands, expected, results, strict=True):
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert (result.returncode, result.stderr.strip().splitlines()) == (code, [line]), args
    assert not (tmp_path / "out.pdf").exists() and not (tmp_path / "out").exists()


def test_a_failed_print_is_not_logged_as_printed(client, settings: Settings, tmp_path: Path) -> None:
    identity_id = str(create(client, settings))  # a QUAL identity with its INS
    (tmp_path / "not-a.pdf").write_bytes(b"this is not a PDF")
    (tmp_path / "letter.pdf").write_bytes(sample_pdf(1))
    env = _env(settings, tmp_path)
    failed = identito_all(
        [
            ["cover-page", "--identity", identity_id, "not-a.pdf", "out.pdf"],
            ["cover-page", "--identity", identity_id, "letter.pdf", "no-such-folder/out.pdf"],
            ["datamatrix", "--identity", identity_id, "--format", "svg", "--output", "no-such-folder/s.svg"],
        ],
        cwd=tmp_path, env=env,
    )
    for result in failed:
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and "INS printed" not in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pdf") == ["letter.pdf", "not-a.pdf"]
    printed = identito("datamatrix", "--identity", identity_id, cwd=tmp_path, env=env)
    assert printed.returncode == 0, printed.stderr
    assert f"INS printed for identity {identity_id}" in printed.stderr
