"""The demo settings file: what is written, what is read back, and when it is not honoured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import development_settings
from app.demo_settings import command_line_settings, find_demo_file, write_demo_settings


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder and no IDENTITO_* variable, as on a new laptop."""
    for name in [n for n in os.environ if n.startswith("IDENTITO_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _demo(**overrides: object):
    return development_settings(insi={"endpoint": "http://127.0.0.1:9/lps", "simulator": True}, **overrides)


def test_values_come_back_as_written(here: Path) -> None:
    written = _demo(establishment_name="CH d'Orléans ${HOME} \\ nord", accepted_documents=["CN", "PA", "LE"])
    path, _ = write_demo_settings(written)
    assert path == here / "var" / "demo-settings.env" and oct(path.stat().st_mode & 0o777) == "0o600"
    demo = find_demo_file()
    assert demo is not None and demo.used
    read = command_line_settings(demo)
    assert read.establishment_name == "CH d'Orléans ${HOME} \\ nord"  # no interpolation, quotes kept
    assert read.accepted_documents == ["CN", "PA", "LE"] and read.environment == "development"
    assert read.auth.secret == written.auth.secret and read.auth.dev_tokens
    assert read.insi.endpoint == "http://127.0.0.1:9/lps" and read.insi.simulator
    assert read.database_url == f"sqlite:///{here / 'var' / 'identito.db'}" and read.var_dir == here / "var"


def test_environment_variables_take_precedence(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_demo_settings(_demo())
    monkeypatch.setenv("IDENTITO_LANGUAGE", "en")
    monkeypatch.setenv("IDENTITO_INSI__ENDPOINT", "http://insi.example/lps")
    read = command_line_settings(find_demo_file())
    assert (read.language, read.insi.endpoint) == ("en", "http://insi.example/lps")
    assert read.auth.dev_tokens  # what the environment does not say still comes from the file


def test_a_file_others_can_read_is_ignored(here: Path) -> None:
    path, _ = write_demo_settings(_demo())
    path.chmod(0o644)
    demo = find_demo_file()
    assert demo is not None and (demo.used, demo.reason) == (False, "permissions")


def test_a_file_that_is_not_development_is_ignored(here: Path) -> None:
    path, text = write_demo_settings(_demo())
    path.write_text(text.replace("IDENTITO_ENVIRONMENT='development'", "IDENTITO_ENVIRONMENT='production'"))
    path.chmod(0o600)
    demo = find_demo_file()
    assert demo is not None and (demo.used, demo.reason) == (False, "not-development")


def test_production_settings_are_never_written() -> None:
    with pytest.raises(ValueError):
        write_demo_settings(development_settings(environment="production", auth={"jwks_url": "https://x"}))
