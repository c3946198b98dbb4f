"""axe-core (the accessibility engine, run in the page) on every page of the application: no serious
or critical violation (RGAA 4.1 / WCAG 2.1 AA rules that axe checks automatically)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, dev_sign_in, node_tools

_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a",
    "wcag21aa", "best-practice"]}, resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe.min.js from the test tools (tests/e2e/node)."""
    _, node_dir = node_tools()
    return (node_dir / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


def _violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    # Evaluated by the test driver, not by the page: the page's CSP (no inline script) stays as is.
    page.evaluate(axe_source)
    found: list[dict[str, Any]] = page.evaluate(_RUN)
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_every_page_has_no_serious_accessibility_violation(
        page: Any, server: LiveServer, seeded: dict[str, int], axe_source: str) -> None:
    page.goto("/app/signin")
    report = {"signin": _violations(page, axe_source)}
    dev_sign_in(page, "agent-a11y", "admission")
    report["search (empty)"] = _violations(page, axe_source)
    page.keyboard.type("dupon")
    page.locator("#results tbody tr").first.wait_for()
    report["search (results)"] = _violations(page, axe_source)
    page.keyboard.type("zzz")
    page.locator("#results", has_text="Aucune identité").wait_for()
    report["search (none)"] = _violations(page, axe_source)
    for name in ("one", "absorbed"):
        page.goto(f"/app/identities/{seeded[name]}")
        report[f"identity ({name})"] = _violations(page, axe_source)
    page.goto("/app/identities/999999")
    report["error page"] = _violations(page, axe_source)
    assert {page_name: v for page_name, v in report.items() if v} == {}
    page.evaluate("document.querySelector('main').appendChild(document.createElement('input'))")
    assert "label" in {v["id"] for v in _violations(page, axe_source)}  # axe does see a flaw
