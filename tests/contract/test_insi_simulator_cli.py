"""Contract: `identito insi-simulator` serves the contract, and the default client reaches it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from app.config import InsiSettings
from app.domain.insi import CallContext, CrCode, InsiUnavailable, TraitsQuery
from app.integrations.insi.client import InsiClient
from app.integrations.insi.wiring import build_credentials

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the simulator did not listen")


def test_the_cli_serves_the_simulator(tmp_path):
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from app.cli import main; main()",
        "insi-simulator",
        "--port",
        str(port),
        "--fault-rate",
        "0",
        "--dialect",
        "legacy",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(port, process)
        settings = InsiSettings(endpoint=f"http://127.0.0.1:{port}/lps")  # development: no certificate needed
        client = InsiClient(settings, tmp_path, build_credentials(settings))
        me = CallContext("dev")
        assert (
            client.search_by_traits(TraitsQuery("NESSI", ("NATHALIE",), "F", date(1977, 7, 14)), me).code
            is CrCode.FOUND
        )
        try:
            client.search_by_traits(TraitsQuery("PANNE", ("SERVICE",), "M", date(1970, 1, 1)), me)
            raise AssertionError("expected a fault")
        except InsiUnavailable as error:
            assert error.detail_code == "desir_1020"
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_cli_refuses_bad_options():
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "insi-simulator", "--dialect", "klingon"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "dialect" in result.stderr
