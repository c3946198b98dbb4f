"""Every "reason required" refusal names the change in French: each ``why`` code the services and the
domain raise has a registered French term (otherwise the agent reads the raw code, e.g.
"(strict-change)")."""

from __future__ import annotations

import re
from pathlib import Path

import app.services.errors  # noqa: F401 - registers the terms
from app.domain.errors import MissingReason

ROOT = Path(__file__).resolve().parents[2] / "app"
RAISED = re.compile(r"""MissingReason\([^)]*why="([^"]+)"|required_reason\([^,]+,\s*"([^"]+)"\)""")


def _codes() -> set[str]:
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        for match in RAISED.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) or match.group(2))
    return found


def test_the_scan_finds_the_reasons_raised() -> None:
    assert {"strict-change", "rejection", "merge", "link", "collision resolution"} <= _codes()


def test_every_reason_code_is_said_in_french() -> None:
    raw = sorted(code for code in _codes()
                 if f"({code})" in MissingReason(field="reason", why=code).message("fr"))
    assert raw == []
    message = MissingReason(field="reason", why="strict-change").message("fr")
    assert message == "Un motif est obligatoire pour cette modification (modification d'un trait strict)."
