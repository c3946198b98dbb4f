"""Browser tests: a live Identito server (uvicorn, a real socket) on SQLite and on PostgreSQL, driven
by a real headless Chromium (Debian's `chromium` package) through Playwright for Python.

Playwright's own browser download is not used: the browser is the system one (executable_path).
The server runs in a child process whose log lines are captured to a file, so that the tests can
check that no patient trait ever reaches a log line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import DEV_SECRET_MARKER, development_settings
from app.db.engine import make_engine
from app.services import identities, merges
from app.services.context import Actor, ServiceContext
from app.services.identities import DocumentInput, TraitsInput
from app.wiring.context import build_context
from tests.cli_support import CLI, clean_env, free_port
from tests.conftest import _truncate_pg

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).parent / "node"  # test-only Node tools: oidc-provider, axe-core
SECRET = DEV_SECRET_MARKER + "e2e-web-secret-key-0123456789"


@dataclass
class LiveServer:
    """A running server: its address, its captured log and a service context on its database."""

    url: str
    log_path: Path
    ctx: ServiceContext

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _database(engine: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    if engine == "sqlite":
        path = tmp / "identito.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    engine_ = make_engine(url, pool_size=1)
    _truncate_pg(engine_)
    engine_.dispose()
    return url


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server not ready in 30 s")


@contextmanager
def running_server(database_url: str, tmp: Path, port: int, **env_values: str) -> Iterator[LiveServer]:
    """uvicorn serving the whole application (API and pages) on this port, in a child process."""
    url = f"http://127.0.0.1:{port}"
    values = {
        "IDENTITO_ENVIRONMENT": "development", "IDENTITO_DATABASE_URL": database_url,
        "IDENTITO_AUTH__SECRET": SECRET, "IDENTITO_AUTH__DEV_TOKENS": "true", "IDENTITO_LANGUAGE": "fr",
        "IDENTITO_VAR_DIR": str(tmp / "var"), "IDENTITO_PUBLIC_URL": url,
        "IDENTITO_HL7__LISTEN_ENABLED": "false", "IDENTITO_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env = clean_env(**{**values, **env_values})
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],  # the production entry point
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    settings = development_settings(database_url=database_url, var_dir=tmp / "var", language="fr",
                                    auth={"secret": SECRET, "dev_tokens": True})
    ctx = build_context(settings)
    try:
        _wait_ready(url, process, log_path)
        yield LiveServer(url, log_path, ctx)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        ctx.engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The application with the development sign-in, on each engine."""
    tmp = tmp_path_factory.mktemp(f"web-{request.param}")
    with running_server(_database(request.param, request, tmp), tmp, free_port()) as live:
        yield live


def node_tools() -> tuple[str, Path]:
    """Node.js and the test tools under tests/e2e/node (npm ci on first use); skip without Node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("Node.js is not installed: the tests' OpenID Connect provider and axe-core run on it")
    tools = ("oidc-provider", "axe-core", "swagger-ui-dist")
    if not all((NODE_DIR / "node_modules" / tool).is_dir() for tool in tools):
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
                              timeout=180)
        if done.returncode != 0:
            _missing(f"npm ci failed in {NODE_DIR}: {done.stderr.decode()[-300:]}")
    return node, NODE_DIR


def _missing(reason: str) -> None:
    """Skip a browser test whose tool is missing on a developer's machine; fail it in CI
    (IDENTITO_TEST_REQUIRE_BROWSER=1, set by .ci/run): a skipped test never counts as passed there."""
    if os.environ.get("IDENTITO_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


# Package scope: Playwright's sync API keeps an event loop in this thread while it is open; it must
# be closed when the browser tests end, or every later asyncio.run() of the suite would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Headless Chromium from the system package."""
    executable = shutil.which("chromium")
    if executable is None:
        _missing("the chromium package is not installed (scripts/setup.sh --test)")
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=30_000)  # retried assertions: as patient as the waits
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, server: LiveServer) -> Iterator[object]:
    """A fresh browser context (no cookie) at 1280 x 800, its console errors collected."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800},  # type: ignore[attr-defined]
                                  locale="fr-FR")
    context.set_default_timeout(30000)  # a loaded CI machine: a wait fails only if the page never comes
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()


DESK = Actor("agent-seed", frozenset({"admission"}))
CELL = Actor("cell-seed", frozenset({"identitovigilance"}))


@pytest.fixture(scope="module")
def seeded(server: LiveServer) -> dict[str, int]:
    """A validated identity with a HOMA attribute (its history has a reason) and a merged pair."""
    ctx: ServiceContext = server.ctx
    one = identities.create_identity(ctx, DESK, TraitsInput(
        birth_name="DUPONTEL", first_names="JEANNE MARIE", birth_date="1961-04-17", sex="F",
        used_name="MARTINEZ"))
    one, _ = identities.record_document(ctx, DESK, one.id, DocumentInput("CN", date(2031, 1, 1)),
                                        expected_version=one.version)
    identities.set_attribute(ctx, CELL, one.id, "HOMA", reason="Homonyme confirmé par la cellule")
    traits = TraitsInput(birth_name="LAVERGNE", first_names="ROSALIE", birth_date="1955-08-09", sex="F")
    survivor = identities.create_identity(ctx, DESK, traits)
    absorbed = identities.create_identity(ctx, DESK, traits, confirm_new=True)
    merges.merge_identities(ctx, CELL, survivor.id, absorbed.id, reason="Doublon créé aux urgences",
                            survivor_version=survivor.version, absorbed_version=absorbed.version)
    return {"one": one.id, "survivor": survivor.id, "absorbed": absorbed.id}


def tab_to(page: Any, selector: str, limit: int = 15) -> None:
    """Press Tab until the element is focused (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} not reachable with Tab")


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Keep what the page looks like, for a person to check, when IDENTITO_SCREENSHOTS names a folder."""
    folder = os.environ.get("IDENTITO_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


def focused(page: Any, element_id: str, timeout: float = 30.0) -> None:
    """The page puts the focus on this element (waited for: a loaded machine sets it late).

    Polled from Python: ``wait_for_function`` evaluates its predicate with the page's script rules,
    which the strict CSP can refuse in the middle of a page change; ``evaluate`` is not subject to
    them, and a context destroyed by a navigation is simply asked again."""
    deadline = time.monotonic() + timeout
    seen: object = None
    while True:
        try:
            seen = page.evaluate("document.activeElement ? document.activeElement.id : null")
        except Exception:  # noqa: BLE001 - the page is navigating: ask again
            seen = None
        if seen == element_id:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"focus expected on #{element_id}, found on #{seen}")
        time.sleep(0.05)


def dev_sign_in(page: Any, user: str, role: str) -> None:
    """The development sign-in, keyboard only, from the application's root address."""
    page.goto("/")
    assert page.url.endswith("/app/signin")
    focused(page, "f-user")  # the first field has the focus
    screenshot(page, "web-signin")
    page.keyboard.type(user)
    tab_to(page, f"#role-{role}")
    page.keyboard.press("Space")
    tab_to(page, "form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/")
    focused(page, "f-name")  # typing before the autofocus lands would type into nothing
