"""The command line beside a running `identito demo`: real processes, real sockets, both engines.

The demo is started as a user would (`identito demo` in an empty folder, free ports); the other
commands run in that folder with no IDENTITO_* variable and must reach the same demo: its
database, its token key, its INSi simulator.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from app.db.engine import make_engine
from tests.cli_support import CLI, clean_env, free_port, identito, identito_all
from tests.conftest import _truncate_pg

ADRUN_MATRICULE = "275126322074974"  # the INSi test person ADRUN ZOE (demo identity 1)
LENTEUR = {"birth_name": "LENTEUR", "first_names": "RESEAU", "birth_date": "1970-01-01", "sex": "M",
           "birth_place_code": "75056"}  # the simulator keeps the caller waiting
READ_TIMEOUT = "1.5"


@dataclass
class Demo:
    """A running demo: its folder, API address and process."""

    home: Path
    url: str
    process: subprocess.Popen[bytes]

    @property
    def settings_file(self) -> Path:
        return self.home / "var" / "demo-settings.env"

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """A command in the demo's folder, with no IDENTITO_* variable but these."""
        return identito(*args, cwd=self.home, env=clean_env(**env))


def _wait_ready(demo: Demo, port: int, timeout: float = 90.0) -> None:
    """Wait until the API listens, then (briefly) for the settings file written just after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            raise AssertionError((demo.home / "demo.err").read_text()[-3000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise AssertionError("the demo did not start")
    settled = time.monotonic() + 10
    while not demo.settings_file.exists() and time.monotonic() < settled:
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`identito demo` in an empty folder (SQLite under ./var, or the test PostgreSQL database)."""
    home = tmp_path_factory.mktemp(f"demo-{request.param}")
    env = clean_env(IDENTITO_HL7__LISTEN_PORT=str(free_port()), IDENTITO_INSI__TIMEOUT_SECONDS="20",
                    IDENTITO_INSI__READ_TIMEOUT_SECONDS=READ_TIMEOUT)
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        engine = make_engine(url, pool_size=1)
        _truncate_pg(engine)
        engine.dispose()
        env["IDENTITO_DATABASE_URL"] = url
    port = free_port()
    with open(home / "demo.out", "wb") as out, open(home / "demo.err", "wb") as err:
        command = [*CLI, "demo", "--port", str(port)]
        process = subprocess.Popen(command, cwd=home, env=env, stdout=out, stderr=err)
    running = Demo(home, f"http://127.0.0.1:{port}", process)
    try:
        _wait_ready(running, port)
        yield running
    finally:
        _stop(process)


def _token(demo: Demo) -> str:
    result = demo.run("token", "--role", "admission", "--role", "identitovigilance", "--role", "documents")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_demo_leaves_its_settings_for_the_command_line(demo: Demo) -> None:
    mode = stat.S_IMODE(demo.settings_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    values = dotenv_values(demo.settings_file, interpolate=False)
    assert values["IDENTITO_ENVIRONMENT"] == "development"
    assert values["IDENTITO_AUTH__DEV_TOKENS"] == "true" and values["IDENTITO_AUTH__SECRET"]
    assert values["IDENTITO_INSI__ENDPOINT"].startswith("http://127.0.0.1:")
    assert values["IDENTITO_VAR_DIR"] == str((demo.home / "var").resolve())
    if values["IDENTITO_DATABASE_URL"].startswith("sqlite"):
        assert values["IDENTITO_DATABASE_URL"] == f"sqlite:///{(demo.home / 'var' / 'identito.db').resolve()}"


def test_a_token_from_the_command_line_is_accepted_by_the_demo(demo: Demo) -> None:
    result = demo.run("token", "--role", "admission")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "Réglages de la démo lus dans var/demo-settings.env (développement ; les variables "
        "d'environnement IDENTITO_* l'emportent)."
    ]
    answer = httpx.get(f"{demo.url}/identities", params={"birth_name": "adr"},
                       headers={"Authorization": f"Bearer {result.stdout.strip()}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert {item["birth_name"] for item in answer.json()["items"]} >= {"ADRUN", "ADRTROIS"}


def test_datamatrix_and_cover_page_read_the_demo_database(demo: Demo) -> None:
    headers = {"Authorization": f"Bearer {_token(demo)}"}
    insi = f"{demo.url}/identities/1/insi"
    proposal = httpx.post(f"{insi}/retrieve", json={"by": "traits"}, headers=headers, timeout=30).json()
    accepted = httpx.post(f"{insi}/accept", json={"proposal_id": proposal["proposal_id"]},
                          headers={**headers, "If-Match": f'"{proposal["identity_version"]}"'}, timeout=30)
    assert accepted.status_code == 200 and accepted.json()["status"] == "QUAL", accepted.text
    matrix, cover = identito_all(
        [["datamatrix", "--identity", "1"],
         ["cover-page", "--identity", "1", "--title", "Lettre", "cover.pdf"]],
        cwd=demo.home, env=clean_env(),
    )
    assert matrix.returncode == 0, matrix.stderr
    assert f"S1{ADRUN_MATRICULE}" in matrix.stdout and "S4ADRUN" in matrix.stdout
    assert cover.returncode == 0, cover.stderr
    assert (demo.home / "cover.pdf").read_bytes().startswith(b"%PDF")
    assert "INS printed for identity 1" in cover.stderr


def test_a_campaign_run_reaches_the_demo_simulator(demo: Demo) -> None:
    result = demo.run("campaign", "run", "--ids", "3", "--rate", "0")  # NESSI NATHALIE, an INSi test person
    assert result.returncode == 0, result.stderr
    assert "1/1 done" in result.stdout
    assert "found" in result.stdout and "unavailable" not in result.stdout


def test_environment_variables_win_over_the_demo_file(demo: Demo) -> None:
    other_secret = "dev-only-" + "another-secret-than-the-demo-one"
    result = demo.run("token", "--role", "admission", IDENTITO_AUTH__SECRET=other_secret)
    assert result.returncode == 0, result.stderr
    answer = httpx.get(f"{demo.url}/identities", params={"birth_name": "adr"},
                       headers={"Authorization": f"Bearer {result.stdout.strip()}"}, timeout=10)
    assert answer.status_code == 401  # signed with the environment's secret, not the demo's


def test_production_never_takes_the_demo_development_settings(demo: Demo) -> None:
    result = demo.run("token", "--role", "admission", IDENTITO_ENVIRONMENT="production")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == ("Réglages de la démo var/demo-settings.env ignorés : "
                        "IDENTITO_ENVIRONMENT vaut production.")
    assert lines[1] == "Configuration invalide :" and "Traceback" not in result.stderr


def test_the_insi_timeout_states_the_configured_read_timeout(demo: Demo) -> None:
    headers = {"Authorization": f"Bearer {_token(demo)}"}
    created = httpx.post(f"{demo.url}/identities", json=LENTEUR, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    started = time.monotonic()
    answer = httpx.post(f"{demo.url}/identities/{created.json()['id']}/insi/retrieve", json={"by": "traits"},
                        headers=headers, timeout=30)
    assert time.monotonic() - started < 10
    assert answer.status_code == 504, answer.text
    detail = answer.json()["detail"]
    assert f"n'a pas répondu en {READ_TIMEOUT} s" in detail and f"délai de lecture {READ_TIMEOUT} s" in detail


def test_stopping_the_demo_removes_its_settings_file(demo: Demo) -> None:
    _stop(demo.process)
    assert demo.process.returncode == 130, (demo.home / "demo.err").read_text()[-2000:]  # Ctrl-C
    assert not demo.settings_file.exists()
    assert os.listdir(demo.home / "var")  # the database and the installation files stay
