"""Sign-in through a real OpenID Connect provider (panva/oidc-provider run with Node, its development
login form), authorization code flow with PKCE; no development sign-in on this deployment."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_support import free_port
from tests.e2e.conftest import LiveServer, _database, focused, node_tools, running_server

CLIENT_SECRET = "e2e-client-secret-0123456789abcdef"  # the test provider's client


def _node_provider(port: int, redirect_uri: str, log_path: Path) -> subprocess.Popen[bytes]:
    node, node_dir = node_tools()
    env = {"PATH": str(Path(node).parent), "PORT": str(port), "REDIRECT_URI": redirect_uri,
           "CLIENT_SECRET": CLIENT_SECRET}
    with log_path.open("wb") as log:
        process = subprocess.Popen([node, "provider.mjs"], cwd=node_dir, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"oidc-provider not ready: {log_path.read_text()[-1000:]}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def oidc_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The application signing in through the provider (development tokens off)."""
    tmp = tmp_path_factory.mktemp(f"oidc-{request.param}")
    database_url = _database(request.param, request, tmp)
    app_port, provider_port = free_port(), free_port()
    provider = _node_provider(provider_port, f"http://127.0.0.1:{app_port}/app/oidc/callback",
                              tmp / "provider.log")
    try:
        with running_server(
            database_url, tmp, app_port, IDENTITO_AUTH__DEV_TOKENS="false",
            IDENTITO_WEB__OIDC_ISSUER=f"http://127.0.0.1:{provider_port}",
            IDENTITO_WEB__OIDC_CLIENT_ID="identito",
            IDENTITO_WEB__OIDC_CLIENT_SECRET=CLIENT_SECRET,
        ) as live:
            yield live
    finally:
        provider.terminate()
        provider.wait(timeout=10)


@pytest.fixture
def oidc_page(browser: Any, oidc_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context on the OpenID Connect deployment."""
    context = browser.new_context(base_url=oidc_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30000)
    yield context.new_page()
    context.close()


def _through_provider(page: Any, login: str) -> None:
    """Start from the sign-in page with the keyboard, then sign in on the provider's form."""
    page.goto("/")
    assert page.url.endswith("/app/signin")
    assert page.locator("form[action='/app/signin/dev']").count() == 0  # no development sign-in here
    focused(page, "oidc")
    page.keyboard.press("Enter")
    page.locator("input[name=login]").wait_for()
    assert "code_challenge" not in page.url  # the provider moved on to its own interaction page
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    consent = page.locator("button:has-text('Continue')")
    page.wait_for_url(lambda url: "/app/" in url or "/interaction/" in url)
    if "/interaction/" in page.url and consent.count():
        consent.click()
    page.wait_for_url(lambda url: "/app/" in url and "/oidc/callback" not in url)


def test_a_desk_agent_signs_in_through_the_provider_and_out(oidc_page: Any, oidc_server: LiveServer) -> None:
    page = oidc_page
    _through_provider(page, "desk-agent")
    assert page.url.endswith("/app/")
    assert page.locator(".who").inner_text() == "Connecté(e) : Agent desk-agent · admission"
    focused(page, "f-name")
    page.keyboard.type("zzz")  # the desk role searches: an empty answer, not a refusal
    page.locator("#results", has_text="Aucune identité ne correspond.").wait_for()
    page.locator("form.signout button").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/signin")
    page.keyboard.press("Enter")  # sign in again: the provider asks for the credentials (prompt=login)
    page.locator("input[name=login]").wait_for()


def test_an_account_without_an_identito_role_is_refused(oidc_page: Any, oidc_server: LiveServer) -> None:
    _through_provider(oidc_page, "no-role")
    assert oidc_page.url.endswith("/app/signin")
    assert "aucun rôle Identito" in oidc_page.locator(".flash").inner_text()


def test_a_forged_callback_signs_nobody_in(oidc_page: Any, oidc_server: LiveServer) -> None:
    oidc_page.goto("/app/oidc/callback?code=stolen&state=forged")
    assert oidc_page.url.endswith("/app/signin")
    assert oidc_page.locator(".flash").inner_text().startswith("Connexion refusée")
    oidc_page.goto("/app/")
    assert oidc_page.url.endswith("/app/signin")
