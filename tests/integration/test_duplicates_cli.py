"""`identito duplicates ...` as a user runs it (real processes, French, SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from tests.api.test_cli_errors import _env
from tests.cli_support import identito
from tests.integration.duplicates_support import DUPLICATES, seed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_scan_check_keys_and_status_in_the_terminal(ctx, settings: Settings, tmp_path: Path) -> None:
    seeded = seed(ctx, 120, match_keys=False)
    env = _env(settings, tmp_path)
    total = len(seeded.ids)

    keys = identito("duplicates", "keys", cwd=tmp_path, env=env)
    assert keys.returncode == 0, keys.stderr
    assert f"{total} identities keyed" in keys.stdout

    scan = identito("duplicates", "scan", cwd=tmp_path, env=env)
    assert scan.returncode == 0, scan.stderr
    assert "Traceback" not in scan.stderr
    assert f"Scan 1 terminé : {total} identités" in scan.stdout
    alerts = int(scan.stdout.split("dont ")[1].split(" ")[0])
    assert alerts >= len(DUPLICATES)

    status = identito("duplicates", "status", "1", cwd=tmp_path, env=env)
    assert status.returncode == 0 and f"scan 1 (done): {total}/{total} identities" in status.stdout

    again = identito("duplicates", "scan", "--resume", "1", cwd=tmp_path, env=env)
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1] == (
        "Refusé (duplicate-scan-finished) : Le scan 1 est déjà terminé (statut done).")

    check = identito("duplicates", "check", cwd=tmp_path, env=env)
    assert check.returncode == 0 and check.stdout.strip() == "0 changes checked"
