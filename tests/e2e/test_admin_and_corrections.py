"""The cell's corrections and the integration pages in a real browser, on a live server:

- cell: a strict trait corrected with its reason (refused without), a stale correction that shows
  what someone else changed and keeps what was typed, an attribute set then cleared with reasons;
- admin: a subscriber switched to INS-ready, its replay progress polled by the page until 100 %
  while a real `identito relay` process (the replay worker) runs the job; a dead letter skipped
  with a reason, another retried; a quarantined message viewed and discarded;
- roles: a desk agent reaches none of these pages; axe-core on every one of them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.services import identities, replay, subscribers
from app.services.context import Actor
from app.services.identities import DocumentInput, TraitsInput
from tests.cli_support import CLI, clean_env, free_port
from tests.e2e.conftest import CELL, DESK, ROOT, SECRET, LiveServer, dev_sign_in, focused, screenshot
from tests.e2e.test_accessibility import _violations, axe_source  # noqa: F401 (a fixture)
from tests.integration.hl7_support import MATRICULES, qualify

ADMIN = Actor("admin-seed", frozenset({"admin"}))
RAW = ("MSH|^~\\&|GAM|CHU|IDENTITO|CHU|20261130101500||ADT^A28^ADT_A05|Q-E2E-1|P|2.5\r"
       "PID|1||Q900001^^^CHU^PI||VERNIERE^ALIX^^^^^L||19840229|F\r")


@pytest.fixture(scope="module")
def admin_seeded(server: LiveServer) -> dict[str, int]:
    """A validated identity for the corrections; a subscriber (nothing listens on its port) with two
    qualified identities queued for it, two of its rows turned dead letters; a quarantined message."""
    ctx = server.ctx
    one = identities.create_identity(ctx, DESK, TraitsInput(
        birth_name="GARNIER", first_names="LOUISE", birth_date="1950-06-15", sex="F"))
    one, _ = identities.record_document(ctx, DESK, one.id, DocumentInput("CN", date(2031, 1, 1)),
                                        expected_version=one.version)
    sub = subscribers.create_subscriber(ctx, ADMIN, subscribers.SubscriberInput(
        name="DPI-E2E", host="127.0.0.1", port=free_port(), receiving_application="DPI",
        receiving_facility="CHU"))
    qual = []
    for n, matricule in enumerate(MATRICULES[:2]):
        made = identities.create_identity(ctx, DESK, TraitsInput(
            birth_name=f"QUALIER{'AB'[n]}", first_names="MARC", birth_date=f"196{n}-02-03", sex="M"))
        qual.append(qualify(ctx, made.id, matricule).id)
    # Two refused deliveries (a subscriber answering AE beyond the limit, as the relay records it).
    with ctx.engine.begin() as connection:
        ids = connection.execute(text(
            "SELECT id FROM outbox_message WHERE subscriber_id = :s ORDER BY id LIMIT 2"), {"s": sub.id}
        ).scalars().all()
        connection.execute(text(
            "UPDATE outbox_message SET state = 'dead', error_attempts = 3, attempts = 3, "
            "last_error = 'AE: segment PID refused' WHERE id IN (:a, :b)"), {"a": ids[0], "b": ids[1]})
    with ctx.unit_of_work(ADMIN) as uow:
        quarantined = uow.inbound.quarantine(
            sender="GAM", control_id="Q-E2E-1", event="A28", at=ctx.now(), raw=RAW.encode(),
            error_code="102", error_field="PID-7", error_text="Date de naissance invalide", ack=None,
            digest=None)
        uow.commit()
    return {"one": one.id, "subscriber": sub.id, "dead_a": ids[0], "dead_b": ids[1],
            "quarantined": quarantined, "qual": qual[0]}


@contextmanager
def replay_worker(server: LiveServer, tmp: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`identito relay` (the outbox relay and the replay jobs, as production runs it) on the server's
    database, in a child process."""
    url = server.ctx.engine.url.render_as_string(hide_password=False)
    env = clean_env(
        IDENTITO_ENVIRONMENT="development", IDENTITO_DATABASE_URL=url, IDENTITO_AUTH__SECRET=SECRET,
        IDENTITO_AUTH__DEV_TOKENS="true", IDENTITO_VAR_DIR=str(tmp / "var"), IDENTITO_LOG_LEVEL="INFO",
        IDENTITO_HL7__LISTEN_ENABLED="false", IDENTITO_HL7__REPLAY_RATE_PER_SECOND="4",
        IDENTITO_HL7__CONNECT_TIMEOUT_SECONDS="0.5", PYTHONPATH=str(ROOT))
    log_path = tmp / "relay.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*CLI, "relay"], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    written = log_path.read_text(errors="replace")
    assert "Traceback" not in written, written[-2000:]


def _job_of(server: LiveServer, subscriber_id: int) -> int:
    return replay.replay_progress(server.ctx, ADMIN, subscriber_id)[0].id


def _script_errors(page: Any) -> list[str]:
    """Console errors other than the 4xx answers the tests provoke (a refused form, a 403 page)."""
    return [e for e in page.console_errors if "Failed to load resource" not in e]


def _expect() -> Any:
    return pytest.importorskip("playwright.sync_api").expect


def test_cell_corrects_traits_and_attributes_with_reasons_and_sees_a_stale_page(
        page: Any, server: LiveServer, admin_seeded: dict[str, int], axe_source: str,  # noqa: F811
) -> None:
    expect = _expect()
    identity_id = admin_seeded["one"]
    dev_sign_in(page, "cell-k", "identitovigilance")
    page.goto(f"/app/identities/{identity_id}")
    page.locator("#correct-link").click()
    page.wait_for_url(f"**/app/identities/{identity_id}/corrections")
    focused(page, "k-birth_name")
    report = {"corrections": _violations(page, axe_source)}
    screenshot(page, "web-corrections")

    # A strict trait of a validated identity: refused without a reason, the typing kept.
    page.keyboard.press("End")
    page.keyboard.type("E")  # GARNIERE
    page.locator("#traits-submit").click()
    expect(page.locator("#ke-reason")).to_contain_text("motif")
    expect(page.locator("#k-birth_name")).to_have_value("GARNIERE")
    report["corrections (no reason)"] = _violations(page, axe_source)
    page.locator("#k-reason").fill("Erreur de saisie du nom, vu sur la CNI")
    page.locator("#traits-submit").click()
    page.wait_for_url(f"**/app/identities/{identity_id}")
    expect(page.locator("p.flash")).to_have_text("Identité corrigée.")
    expect(page.locator("h1")).to_contain_text("GARNIERE")
    # VALI -> PROV: the document checked was for the old name.
    expect(page.locator(".state .badge-PROV")).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("Erreur de saisie du nom, vu sur la CNI")

    # Stale: someone else changes the used name while the agent types the used first name.
    page.goto(f"/app/identities/{identity_id}/corrections")
    focused(page, "k-birth_name")
    current = identities.read_identity(server.ctx, identity_id)
    identities.update_identity(server.ctx, CELL, identity_id, {"used_name": "BLANCHARD"},
                               expected_version=current.version)
    page.locator("#k-used_first_name").fill("LOU")
    page.locator("#traits-submit").click()
    conflict = page.locator("#conflict")
    expect(conflict).to_contain_text("Quelqu'un d'autre a modifié cette identité")
    expect(conflict).to_contain_text("par cell-seed")
    row = page.locator("#conflict-changes tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Nom utilisé")
    expect(row.locator("td").nth(0)).to_have_text("—")
    expect(row.locator("td").nth(1)).to_have_text("BLANCHARD")
    expect(page.locator("#k-used_first_name")).to_have_value("LOU")  # what the agent typed is kept
    expect(page.locator("#k-used_name")).to_have_value("BLANCHARD")  # the other change is not undone
    report["corrections (stale)"] = _violations(page, axe_source)
    screenshot(page, "web-corrections-stale", full_page=True)
    page.locator("#traits-submit").click()
    page.wait_for_url(f"**/app/identities/{identity_id}")
    saved = identities.read_identity(server.ctx, identity_id).traits
    assert (saved.used_name, saved.used_first_name) == ("BLANCHARD", "LOU")

    # An attribute set, then cleared, each with its reason.
    page.goto(f"/app/identities/{identity_id}/corrections")
    page.locator("#a-action").select_option("set:DOUT")
    page.locator("#attr-submit").click()
    expect(page.locator("#attr-error")).to_contain_text("motif")
    page.locator("#a-reason").fill("Traits incohérents avec le dossier")
    page.locator("#attr-submit").click()
    page.wait_for_url(f"**/app/identities/{identity_id}")
    expect(page.locator("p.flash")).to_have_text("Attribut DOUT posé.")
    expect(page.locator(".state .attr-DOUT")).to_contain_text("Identité douteuse")
    page.goto(f"/app/identities/{identity_id}/corrections")
    page.locator("#a-action").select_option("remove:DOUT")
    page.locator("#a-reason").fill("Doute levé après appel du patient")
    page.locator("#attr-submit").click()
    page.wait_for_url(f"**/app/identities/{identity_id}")
    expect(page.locator("p.flash")).to_have_text("Attribut DOUT retiré.")
    expect(page.locator(".state .attr-DOUT")).to_have_count(0)
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Doute levé après appel du patient")
    expect(timeline).to_contain_text("Traits incohérents avec le dossier")

    page.goto(f"/app/cell/worklists/insi_not_found?identity={identity_id}&older=0")
    report["worklist (filtered)"] = _violations(page, axe_source)
    page.goto("/app/cell/worklists/insi_not_found?from=31/02/2026")
    expect(page.locator("#we-from")).to_contain_text("JJ/MM/AAAA")
    report["worklist (bad filter)"] = _violations(page, axe_source)
    assert {name: v for name, v in report.items() if v} == {}
    assert _script_errors(page) == []
    assert "GARNIER" not in server.log() and "BLANCHARD" not in server.log()


def test_admin_switches_a_subscriber_to_ins_ready_and_handles_dead_letters_and_quarantine(
        page: Any, server: LiveServer, admin_seeded: dict[str, int], axe_source: str,  # noqa: F811
        tmp_path: Path) -> None:
    expect = _expect()
    sub = admin_seeded["subscriber"]
    dev_sign_in(page, "admin-k", "admin")
    page.locator("#nav-admin").click()
    page.wait_for_url("**/app/admin")
    row = page.locator(f"#sub-{sub}")
    expect(row).to_contain_text("DPI-E2E")
    expect(row).to_contain_text("Ancien format")
    report = {"subscribers": _violations(page, axe_source)}
    row.locator("a.row-link").click()
    page.wait_for_url(f"**/app/admin/subscribers/{sub}")
    report["subscriber"] = _violations(page, axe_source)

    # The switch: the job waits for the replay worker, the page polls its progress.
    page.locator("#ins-ready").click()
    page.wait_for_url(f"**/app/admin/subscribers/{sub}")
    expect(page.locator("p.flash")).to_contain_text("INS-ready")
    expect(page.locator("#sub-format")).to_have_text("INS-ready")
    progress = page.locator("#replay")
    expect(progress).to_have_attribute("hx-trigger", "every 1s")
    expect(progress).to_contain_text("0 % (0 / 2)")
    report["subscriber (replay running)"] = _violations(page, axe_source)
    polled: list[str] = []
    progress_url = f"/subscribers/{sub}/replay"
    page.on("request", lambda r: polled.append(r.url) if r.url.endswith(progress_url) else None)
    with replay_worker(server, tmp_path):
        expect(page.locator("#replay .pct")).to_have_text("100 % (2 / 2)", timeout=60_000)
        expect(progress).not_to_have_attribute("hx-trigger", "every 1s")  # done: no more polling
        expect(page.locator(f"#replay #job-{_job_of(server, sub)}")).to_contain_text("terminé")
    assert page.url.endswith(f"/app/admin/subscribers/{sub}") and polled  # updated in place, by polling
    count = len(polled)
    page.wait_for_timeout(2500)
    assert len(polled) == count
    screenshot(page, "web-subscriber-replayed", full_page=True)

    # Pause, then resume.
    page.locator("#pause-resume").click()
    expect(page.locator("#sub-state")).to_have_text("en pause")
    page.locator("#pause-resume").click()
    expect(page.locator("#sub-state")).to_have_text("actif")

    # Dead letters: a skip needs a reason; then one skipped, the other retried.
    page.goto("/app/admin/dead-letters")
    dead_a, dead_b = admin_seeded["dead_a"], admin_seeded["dead_b"]
    expect(page.locator(f"#dl-{dead_a}")).to_contain_text("AE: segment PID refused")
    report["dead letters"] = _violations(page, axe_source)
    screenshot(page, "web-dead-letters", full_page=True)
    page.locator(f"#skip-{dead_a}").click()
    expect(page.locator("#dl-error")).to_contain_text(f"Message n° {dead_a}")
    report["dead letters (refused)"] = _violations(page, axe_source)
    page.locator(f"#skip-reason-{dead_a}").fill("Renvoyé à la main au DPI")
    page.locator(f"#skip-{dead_a}").click()
    expect(page.locator("p.flash")).to_contain_text(f"Message n° {dead_a} abandonné")
    expect(page.locator(f"#dl-{dead_a}")).to_have_count(0)
    page.locator(f"#retry-{dead_b}").click()
    expect(page.locator("p.flash")).to_contain_text(f"Message n° {dead_b} remis en file")
    expect(page.locator(f"#dl-{dead_b}")).to_have_count(0)
    expect(page.locator("p.muted")).to_have_text("Aucune lettre morte.")

    # Quarantine: the message in the page (never in an address), discarded with a reason.
    page.goto("/app/admin/quarantine")
    item = admin_seeded["quarantined"]
    report["quarantine"] = _violations(page, axe_source)
    page.locator(f"#q-{item}").click()
    page.wait_for_url(f"**/app/admin/quarantine/{item}")
    expect(page.locator("#q-message")).to_have_value(RAW.replace("\r", "\n").rstrip("\n") + "\n")
    report["quarantined message"] = _violations(page, axe_source)
    screenshot(page, "web-quarantined", full_page=True)
    page.locator("#q-discard").click()
    expect(page.locator("#q-error")).to_be_visible()
    page.locator("#q-reason").fill("Message de test envoyé par erreur")
    page.locator("#q-discard").click()
    page.wait_for_url("**/app/admin/quarantine")
    expect(page.locator("p.flash")).to_contain_text(f"Message n° {item} écarté")
    assert {name: v for name, v in report.items() if v} == {}
    assert _script_errors(page) == []
    log = server.log()
    assert "VERNIERE" not in log and "QUALIERA" not in log and MATRICULES[0] not in log


def test_a_desk_agent_reaches_neither_the_corrections_nor_the_integration_pages(
        page: Any, server: LiveServer, admin_seeded: dict[str, int]) -> None:
    expect = _expect()
    dev_sign_in(page, "agent-k", "admission")
    expect(page.locator("#nav-admin")).to_have_count(0)
    page.goto(f"/app/identities/{admin_seeded['one']}")
    expect(page.locator("#correct-link")).to_have_count(0)
    for path in (f"/app/identities/{admin_seeded['one']}/corrections", "/app/admin",
                 f"/app/admin/subscribers/{admin_seeded['subscriber']}", "/app/admin/dead-letters",
                 "/app/admin/quarantine", f"/app/admin/quarantine/{admin_seeded['quarantined']}"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.locator("h1")).to_have_text("Accès refusé")
