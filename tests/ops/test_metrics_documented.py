"""Every metric the service exports is documented in docs/operations.md (Monitoring), with its
labels, and the documentation lists no metric the service does not export."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import auth

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ")
HISTOGRAM_PARTS = ("_bucket", "_count", "_sum")


def _documented() -> dict[str, str]:
    """The rows of the 'Exported metrics' table: metric name -> its labels cell."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Exported metrics", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `identito_") and len(cells) >= 4:
            rows[cells[0].strip("`")] = cells[2]
    return rows


def _exported(client: TestClient, settings: Settings) -> tuple[set[str], dict[str, set[str]]]:
    """Names declared by '# TYPE' lines, and the label names seen on each metric's samples."""
    admission = auth(settings, "admission")
    created = client.post("/identities", headers=admission, json={
        "birth_name": "Exemple", "first_names": "Test", "birth_date": "1990-01-01", "sex": "F"})
    assert created.status_code == 201
    assert client.get("/identities", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    text = client.get("/metrics").text
    types = {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE ")}
    labels: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if line.startswith("#") or match is None:
            continue
        name = match.group(1)
        for part in HISTOGRAM_PARTS:
            if name.endswith(part) and types.get(name.removesuffix(part)) == "histogram":
                name = name.removesuffix(part)
        assert name in types, f"{name} has samples but no # TYPE line"
        keys = {pair.split("=", 1)[0] for pair in re.findall(r'(\w+)="', match.group(2) or "")} - {"le"}
        labels.setdefault(name, set()).update(keys)
    return set(types), labels


def test_every_exported_metric_is_documented_with_its_labels(client: TestClient, settings: Settings) -> None:
    names, labels = _exported(client, settings)
    documented = _documented()
    assert names, "the exposition declared no metric"
    assert names - set(documented) == set(), "exported but not documented in docs/operations.md"
    assert set(documented) - names == set(), "documented in docs/operations.md but not exported"
    for name, keys in labels.items():
        cell = documented[name]
        missing = {key for key in keys if f"`{key}`" not in cell}
        assert not missing, f"{name}: labels {missing} not documented"
        if not keys:
            assert cell == "none", f"{name} has no label but the documentation lists {cell}"
