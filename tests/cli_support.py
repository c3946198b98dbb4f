"""Run the real `identito` command line as subprocesses, as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-c", "from app.cli import main; main()"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any IDENTITO_* variable, plus these."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("IDENTITO_")}
    env.update(values)
    return env


def identito(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run one command to its end."""
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def identito_all(
    commands: list[list[str]], cwd: Path, env: dict[str, str], timeout: float = 90,
    envs: list[dict[str, str]] | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Run several commands at once (independent ones: the suite stays short) and wait for all."""
    started = [
        (args, subprocess.Popen([*CLI, *args], cwd=cwd, env=own_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True))
        for args, own_env in zip(commands, envs or [env] * len(commands), strict=True)
    ]
    results = []
    for args, process in started:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return results
