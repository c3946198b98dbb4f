"""/docs (Swagger UI) works in Chromium under its Content-Security-Policy: the CDN it loads from is
answered with the same Swagger UI 5 files from npm (tests/e2e/node), nothing is blocked by the policy."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import LiveServer, node_tools

CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"


def test_swagger_ui_renders_under_its_policy(page: Any, server: LiveServer) -> None:
    _, node_dir = node_tools()
    dist = node_dir / "node_modules" / "swagger-ui-dist"
    served: list[str] = []

    def cdn(route: Any) -> None:
        name = route.request.url.removeprefix(CDN).split("?")[0]
        served.append(name)
        kind = "text/css" if name.endswith(".css") else "application/javascript"
        headers = {"Content-Type": kind, "Access-Control-Allow-Origin": "*"}
        route.fulfill(status=200, body=(dist / name).read_bytes(), headers=headers)

    page.route(CDN + "**", cdn)
    page.route("https://fastapi.tiangolo.com/**", lambda route: route.fulfill(status=204))
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    response = page.goto("/docs")
    assert "script-src 'sha256-" in response.headers["content-security-policy"]
    # Swagger UI fetched /openapi.json and drew the operations (the identities tag, a known path).
    page.locator(".opblock-summary-path", has_text="/identities/{identity_id}").first.wait_for()
    assert page.locator(".opblock").count() > 50
    assert sorted(set(served)) == ["swagger-ui-bundle.js", "swagger-ui.css"]
    assert violations == [], violations
