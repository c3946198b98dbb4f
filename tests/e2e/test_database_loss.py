"""A lost database seen from the desk, in a real browser, on a live server whose PostgreSQL
connections go through a fault proxy: the search as you type says, in French, that the database is
unavailable and that nothing was written, with what the agent typed still in the field; once the
database is back, the next keystroke brings the results and the message goes away. A form sent
while the database is lost is kept: one button sends it again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from app.services import identities
from app.services.identities import TraitsInput
from tests.cli_support import free_port
from tests.e2e.conftest import DESK, LiveServer, _database, dev_sign_in, focused, running_server, screenshot
from tests.e2e.test_accessibility import _violations, axe_source  # noqa: F401 (a fixture)
from tests.faults.harness import through
from tests.faults.proxy import FaultProxy

UNAVAILABLE = "La base de données est momentanément indisponible : rien n'a été enregistré."


@pytest.fixture(scope="module")
def proxy(request: pytest.FixtureRequest) -> Iterator[FaultProxy]:
    target = urlsplit(request.getfixturevalue("pg_database"))
    fault = FaultProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    yield fault
    fault.stop()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           proxy: FaultProxy) -> Iterator[LiveServer]:
    """The application on PostgreSQL; the server's own connections go through the proxy."""
    tmp = tmp_path_factory.mktemp("web-db-loss")
    url = _database("postgresql", request, tmp)
    with running_server(through(url, proxy.port), tmp, free_port()) as live:
        identities.create_identity(live.ctx, DESK, TraitsInput(
            birth_name="VERNOUX", first_names="ALICE", birth_date="1972-05-06", sex="F"))
        yield live


def test_search_as_you_type_says_the_database_is_lost_then_recovers(
        page: Any, server: LiveServer, proxy: FaultProxy, axe_source: str) -> None:  # noqa: F811
    dev_sign_in(page, "agent-db", "admission")
    focused(page, "f-name")
    notice = page.locator("#notice")
    proxy.set("reset")
    try:
        page.keyboard.type("vernou")
        expect(notice).to_be_visible()
        expect(notice).to_have_text(f"{UNAVAILABLE} Réessayez dans quelques instants ; si cela dure, "
                                    "prévenez le support informatique.")
        expect(page.locator("#f-name")).to_have_value("vernou")  # what was typed stays
        assert page.locator("#notice").get_attribute("role") == "alert"  # read out by a screen reader
        assert _violations(page, axe_source) == []
        screenshot(page, "web-database-lost")
    finally:
        proxy.heal()
    page.keyboard.type("x")
    page.keyboard.press("Backspace")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(notice).to_be_hidden()
    _log_names_the_outage_and_no_trait(server, "POST /app/search")


def test_a_form_sent_while_the_database_is_lost_is_sent_again_with_one_key(
        page: Any, server: LiveServer, proxy: FaultProxy, axe_source: str) -> None:  # noqa: F811
    dev_sign_in(page, "agent-db2", "admission")
    page.goto("/app/identities/new")
    focused(page, "c-birth_name")
    page.fill("#c-birth_name", "Garnier-Sauval")
    page.fill("#c-first_names", "Élise")
    page.fill("#c-birth_date", "07/08/1991")
    page.select_option("#c-sex", "F")
    proxy.set("reset")
    try:
        page.locator("#create button[type=submit]").first.click()
        expect(page.locator("h1")).to_have_text("Base de données indisponible")
        expect(page.locator("p.error")).to_contain_text(UNAVAILABLE)
        assert _violations(page, axe_source) == []
        screenshot(page, "web-database-lost-form")
    finally:
        proxy.heal()
    focused(page, "resend-button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/identities/*")
    assert page.locator("h1").inner_text().startswith("GARNIER-SAUVAL, ELISE")
    _log_names_the_outage_and_no_trait(server, "POST /app/identities")


def _log_names_the_outage_and_no_trait(server: LiveServer, request: str) -> None:
    log = server.log()
    assert f"database unavailable on {request}" in log
    for trait in ("VERNOU", "vernou", "GARNIER", "Garnier", "SAUVAL", "Sauval", "Élise", "ELISE",
                  "07/08/1991", "1991-08-07", "1972-05-06", "ALICE"):
        assert trait not in log, trait

