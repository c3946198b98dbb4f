"""The cell's INSi campaigns, INSi call journal and indicators pages in a real Chromium, against the
live server and, beside it, a real campaign worker (`identito worker`, as deployed) calling the INSi
simulator: a campaign created in the page reaches 100 % by htmx polling, is reported in CSV; a
campaign paused, resumed, cancelled; the journal filtered and paged; the indicators and their CSV
export match the journal; no serious accessibility violation; desk agents refused; no trait logged.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from app.api.auth import issue_dev_token
from app.config import AuthSettings
from app.db.tables import InsiCallRow
from app.services import identities, insi
from app.services.identities import TraitsInput
from app.services.indicators import indicators
from app.services.insi import InsiCallFilters
from tests.campaign_processes import name_of, runner_env, simulator
from tests.e2e.conftest import CELL, DESK, SECRET, LiveServer, dev_sign_in, screenshot
from tests.e2e.test_accessibility import _violations, axe_source  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
PAGING_CALLER = "e2e-paging"
PAGING_CALLS = 55  # journal rows of January 2026: more than one journal page (50)
CSRF = "Formulaire expiré ou falsifié"


@pytest.fixture(scope="module")
def worker(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`identito worker` on the server's database, calling the INSi simulator; its log file."""
    sim = simulator()
    tmp = tmp_path_factory.mktemp("worker")
    url = server.ctx.engine.url.render_as_string(hide_password=False)
    env = runner_env(url, sim.url, tmp / "var", worker_poll_seconds=0.3)
    log_path = tmp / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "worker"],
                                   env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        sim.stop()


@pytest.fixture(scope="module")
def people(server: LiveServer) -> list[int]:
    """Twelve provisional identities INSi does not know (CR 01), and January's journal rows."""
    ids = [identities.create_identity(server.ctx, DESK, TraitsInput(
        birth_name=name_of(i), first_names="JEAN", birth_date=f"19{50 + i}-0{1 + i % 9}-{10 + i}",
        sex="M")).id
        for i in range(12)]
    rows = [{"at": datetime(2026, 1, 2 + i // 3, 8 + i % 3, 0, tzinfo=UTC), "operation": "search_traits",
             "credential_mode": "card", "emitter": "e2e", "requested_by": PAGING_CALLER,
             "purpose": "attended",
             "identity_id": None, "outcome": "00", "error_category": None, "duration_ms": 10.0 + i,
             "message_id": f"e2e-{i:03d}", "traits_hash": None} for i in range(PAGING_CALLS)]
    with server.ctx.engine.begin() as connection:
        connection.execute(insert(InsiCallRow), rows)
    return ids


def _api(role: str) -> dict[str, str]:
    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "api-check", [role])
    return {"Authorization": f"Bearer {token}"}


def _create_campaign(page: Any, name: str, ids: list[int], rate: str, concurrency: str = "") -> int:
    page.goto("/app/cell")
    page.locator("#campaigns-link").click()
    page.locator("#c-name").fill(name)
    page.locator("#c-ids").fill(", ".join(str(i) for i in ids))
    page.locator("#c-rate").fill(rate)
    page.locator("#c-concurrency").fill(concurrency)
    page.locator("#c-submit").click()
    page.wait_for_url("**/app/cell/campaigns/*")
    return int(page.url.rsplit("/", 1)[1])


def test_a_campaign_reaches_100_percent_live_and_its_report_downloads(
        page: Any, server: LiveServer, worker: Path, people: list[int]) -> None:
    dev_sign_in(page, "cell-camp", "identitovigilance")
    page.goto("/app/cell/campaigns")
    page.locator("#c-submit").click()  # nothing typed: the form says what is missing, nothing created
    assert page.locator("#campaign-error").inner_text() == "Un nom est obligatoire."
    page.locator("#c-name").fill("Sans sélection")
    page.locator("#c-submit").click()
    assert page.locator("#campaign-error").inner_text().startswith("La sélection de la campagne est vide")
    assert page.locator("#campaigns").count() == 0

    ids = people[:4]
    campaign = _create_campaign(page, "Rattrapage INS", ids, "0.5")
    flash = f"Campagne n° {campaign} créée : 4 identité(s) sélectionnée(s)."
    assert page.locator("p.flash").inner_text() == flash
    assert page.locator("#action-pause").is_visible()
    page.evaluate("window.notReloaded = true")
    first = page.locator("#campaign-done").inner_text()
    assert "(100 %)" not in first  # one call every 2 s: not over when the page opens
    # each of 1, 2 and 3 done lasts 2 s: a poll (every 2 s) shows one of them, swapped in place
    page.locator("#campaign-done", has_text=re.compile(r"^[123] / 4 identités")).wait_for(timeout=60_000)
    assert page.evaluate("window.notReloaded") is True
    done = page.locator("#campaign-done", has_text="4 / 4 identités traitées (100 %)")
    done.wait_for(timeout=60_000)
    # once done, the page reloads itself: the actions a running campaign offered are gone
    page.locator("#campaign-actions").wait_for(state="detached")
    bar = page.locator("#campaign-bar")
    assert bar.get_attribute("value") == "4" and bar.get_attribute("max") == "4"
    page.locator("#campaign-status", has_text="terminée").wait_for()
    assert page.locator("#campaign-progress").get_attribute("hx-trigger") is None  # polling stopped
    outcomes = page.locator("#campaign-outcomes tbody tr").all_inner_texts()
    assert outcomes == ["aucune identité (CR 01) not_found\t4"]
    screenshot(page, "web-campaign-done")

    with page.expect_download() as download:
        page.locator("#report-link").click()
    text = Path(download.value.path()).read_bytes().decode("utf-8")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [int(line["identity_id"]) for line in lines] == ids
    assert {(line["state"], line["outcome"], line["code"]) for line in lines} == {("done", "not_found", "01")}
    api = httpx.get(f"{server.url}/campaigns/{campaign}/report?format=csv", headers=_api("identitovigilance"))
    assert text == api.text  # the same CSV as the API's

    page.goto("/app/cell/campaigns")
    assert page.locator("#campaigns tbody tr", has_text="Rattrapage INS").inner_text().count("(100 %)") == 1


def test_a_campaign_paused_resumed_and_cancelled(
        page: Any, server: LiveServer, worker: Path, people: list[int]) -> None:
    dev_sign_in(page, "cell-pilot", "identitovigilance")
    # one call every 5 s, one at a time: at most two items are claimed when it is cancelled
    campaign = _create_campaign(page, "Campagne lente", people[4:12], "0.2", "1")
    page.locator("#a-reason").fill("Maintenance du téléservice")
    page.locator("#action-pause").click()
    assert page.locator("p.flash").inner_text() == f"Campagne n° {campaign} : en pause."
    assert page.locator("#campaign-status").inner_text() == "en pause"
    assert page.locator("#action-pause").count() == 0
    page.locator("#action-resume").click()
    assert page.locator("#campaign-status").inner_text() == "en cours"
    page.locator("#action-cancel").click()
    assert page.locator("#campaign-status").inner_text() == "annulée"
    # the pending items are closed as cancelled; a call on the wire ends on its own (still polled)
    page.locator("#campaign-done", has_text="8 / 8 identités traitées (100 %)").wait_for()
    assert page.locator("#campaign-actions").count() == 0  # nothing left to control
    assert "annulée" in page.locator("#campaign-outcomes").inner_text()


def test_the_journal_filtered_and_paged(
        page: Any, server: LiveServer, worker: Path, people: list[int]) -> None:
    dev_sign_in(page, "cell-journal", "identitovigilance")
    page.goto("/app/cell")
    page.locator("#journal-link").click()
    page.locator("#j-identity").fill(str(people[0]))
    page.locator("#j-submit").click()
    page.wait_for_url(re.compile(r".*/app/cell/insi-calls\?.*identity=\d+"))
    rows = page.locator("#journal tbody tr")
    assert rows.count() == 1  # the first campaign's call for that identity (01: one call)
    assert f"n° {people[0]}" in rows.first.inner_text() and "01" in rows.first.inner_text()
    assert "CRASH" not in page.url  # only the internal number travels in the address

    page.goto("/app/cell/insi-calls")
    page.locator("#j-caller").fill(PAGING_CALLER)
    page.locator("#j-since").fill("2026-01-01")
    page.locator("#j-until").fill("2026-01-31")
    page.locator("#j-outcome").fill("00")
    page.locator("#j-submit").click()
    page.locator("#journal").wait_for()
    assert rows.count() == 50
    ids = [c.split("\t")[-1] for c in rows.all_inner_texts()]
    # newest first
    assert ids[0] == f"e2e-{PAGING_CALLS - 1:03d}" and ids[-1] == f"e2e-{PAGING_CALLS - 50:03d}"
    page.locator("#journal-next").click()
    page.locator("#journal-prev").wait_for()
    assert [c.split("\t")[-1] for c in rows.all_inner_texts()] == [f"e2e-{i:03d}" for i in range(4, -1, -1)]
    assert page.locator("#journal-next").count() == 0
    screenshot(page, "web-insi-journal")

    page.locator("#j-identity").fill("douze")
    page.locator("#j-submit").click()
    assert page.locator("#journal-error").inner_text() == "N° d'identité invalide : douze."


def _csv_rows(text: str) -> dict[str, list[str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return {"header": header, **{row[0]: row[1:] for row in reader}}


def test_the_indicators_and_their_csv_match_the_journal(
        page: Any, server: LiveServer, worker: Path, people: list[int]) -> None:
    this_month = datetime.now(UTC).strftime("%Y-%m")
    calls = insi.list_insi_calls(server.ctx, CELL, InsiCallFilters(since=datetime(2026, 1, 1, tzinfo=UTC)),
                                 limit=10_000)
    expected = {(c.at.astimezone(UTC).strftime("%Y-%m"), c.outcome) for c in calls}
    count = {key: sum(1 for c in calls if (c.at.astimezone(UTC).strftime("%Y-%m"), c.outcome) == key)
             for key in expected}
    assert count[("2026-01", "00")] == PAGING_CALLS and count[(this_month, "01")] >= 4

    dev_sign_in(page, "cell-ind", "identitovigilance")
    page.goto("/app/cell")
    page.locator("#indicators-link").click()
    page.locator("#i-from").fill("2026-01")
    page.locator("#i-submit").click()
    page.wait_for_url(re.compile(r".*/app/cell/indicators\?from=2026-01&to=\d{4}-\d{2}$"))
    table = page.locator("#table-insi_outcomes")
    january = table.locator("tbody tr", has_text="2026-01").inner_text().split("\t")
    assert january[:2] == ["2026-01", str(PAGING_CALLS)]
    now_row = table.locator("tbody tr", has_text=this_month).inner_text().split("\t")
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert now_row[headers.index("01 : aucune identité")] == str(count[(this_month, "01")])
    assert page.locator("#chart-insi_outcomes rect").count() > 0  # the chart is drawn on the server
    assert page.locator("[style]").count() == 0  # nothing the CSP would block
    screenshot(page, "web-indicators")  # the top: docs/ui.md shows it

    with page.expect_download() as download:
        page.locator("#csv-insi_outcomes").click()
    exported = _csv_rows(Path(download.value.path()).read_text(encoding="utf-8"))
    codes = [h.rsplit("[", 1)[-1].rstrip("]") for h in exported["header"][1:]]
    for (month, outcome), n in count.items():
        assert exported[month][codes.index(outcome)] == str(n), (month, outcome)
    report = indicators(server.ctx, CELL, "2026-01", this_month)
    worklist = dict(report.table("worklist").rows)
    page_row = page.locator("#table-worklist tbody tr", has_text=this_month).inner_text().split("\t")
    assert page_row[1] == str(worklist[this_month][0]) and worklist[this_month][0] >= 4  # one per CR 01
    identities_row = page.locator("#table-identities tbody tr", has_text="PROV").inner_text().split("\t")
    assert int(identities_row[1]) >= len(people)

    page.goto("/app/cell/indicators?from=2026-13")
    assert page.locator("#ind-error").inner_text() == "Mois invalide 2026-13 : attendu AAAA-MM."


def test_the_pages_are_refused_to_a_desk_agent_and_forged_forms(
        page: Any, server: LiveServer, people: list[int]) -> None:
    dev_sign_in(page, "desk-ind", "admission")
    for path in ("/app/cell/campaigns", "/app/cell/campaigns/1", "/app/cell/campaigns/1/report.csv",
                 "/app/cell/insi-calls", "/app/cell/insi-calls?identity=abc", "/app/cell/indicators",
                 "/app/cell/indicators/insi_outcomes.csv"):
        response = page.goto(path) if not path.endswith(".csv") else page.request.get(path)
        assert response.status == 403, path
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert page.request.post("/app/cell/campaigns", form={"csrf_token": token, "name": "x",
                                                          "ids": str(people[0])}).status == 403
    for path, body in (("/app/cell/campaigns", {"name": "Falsifiée", "ids": str(people[0])}),
                       ("/app/cell/campaigns/1/pause", {})):
        for forged in (None, "forged"):
            refused = page.request.post(path, form=body if forged is None else {**body, "csrf_token": forged})
            assert refused.status == 403 and CSRF in refused.text(), path


def test_the_pages_have_no_serious_accessibility_violation(
        page: Any, server: LiveServer, worker: Path, people: list[int], axe_source: str) -> None:  # noqa: F811
    dev_sign_in(page, "cell-a11y-ind", "identitovigilance")
    report: dict[str, list[dict[str, Any]]] = {}
    for path in ("/app/cell", "/app/cell/campaigns", "/app/cell/insi-calls",
                 f"/app/cell/insi-calls?caller={PAGING_CALLER}", "/app/cell/indicators",
                 "/app/cell/indicators?from=2026-13"):
        page.goto(path)
        report[path] = _violations(page, axe_source)
    page.goto("/app/cell/campaigns")
    page.locator("#c-submit").click()
    page.locator("#campaign-error").wait_for()
    report["campaign form error"] = _violations(page, axe_source)
    page.locator("#campaigns a.row-link").first.click()
    page.locator("#campaign-progress").wait_for()
    report["campaign page"] = _violations(page, axe_source)
    campaign = _create_campaign(page, "Campagne a11y", people[:1], "0.1", "1")
    page.locator("#campaign-progress").wait_for()
    report[f"campaign {campaign} running"] = _violations(page, axe_source)
    page.locator("#action-cancel").click()
    assert {name: v for name, v in report.items() if v} == {}


def test_no_patient_trait_in_the_server_log(server: LiveServer, people: list[int]) -> None:
    httpx.get(f"{server.url}/app/cell/insi-calls?identity={people[0]}&caller=someone")  # signed out: 303
    log = server.log()
    assert "GET /app/cell/insi-calls HTTP/1.1" in log  # captured, without its query string
    assert "?identity=" not in log and "caller=" not in log
    names = [name_of(i) for i in range(12)]
    assert [n for n in names if n in log] == []
