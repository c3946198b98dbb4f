"""Creating an identity at the desk (live RNIV checks, the probable-duplicate warning) and the
identitovigilance cell's pages (a worklist item resolved, a pair reviewed, merged, unmerged) in a
real browser, keyboard only where a person would be; a desk agent refused on the cell's pages;
CSRF on the new forms; no trait in the server's log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.api.auth import issue_dev_token
from app.config import AuthSettings
from app.domain.worklist import Hint, WorklistKind
from app.services import duplicates, identities, worklists
from app.services.identities import TraitsInput
from tests.e2e.conftest import CELL, DESK, SECRET, LiveServer, dev_sign_in, focused, screenshot, tab_to
from tests.e2e.test_accessibility import _violations, axe_source  # noqa: F401 (a fixture)

TRAITS = ("FAUCHER", "BERTHIER", "ODILE", "ROUSSEL", "1948-02-03", "03/02/1948", "12/03/1990")
CSRF = "Formulaire expiré ou falsifié"


@pytest.fixture(scope="module")
def cell_seeded(server: LiveServer) -> dict[str, int]:
    """An identity with an open worklist item, and an open pair of two BERTHIER found at the desk."""
    ctx = server.ctx
    one = identities.create_identity(ctx, DESK, TraitsInput(
        birth_name="ROUSSEL", first_names="ANNE", birth_date="1970-01-02", sex="F"))
    with ctx.unit_of_work(CELL) as uow:
        item = worklists.open_item(uow, WorklistKind.INSI_NOT_FOUND, one.id, "01", hint=Hint.CHECK_TRAITS)
        uow.commit()
    traits = TraitsInput(birth_name="BERTHIER", first_names="ODILE", birth_date="1948-02-03", sex="F")
    low = identities.create_identity(ctx, DESK, traits)
    high = identities.create_identity(ctx, DESK, traits, confirm_new=True)
    pair = next(v.pair for v in duplicates.list_pairs(ctx, CELL) if v.pair.key == (low.id, high.id))
    return {"item_identity": one.id, "item": item, "low": low.id, "high": high.id, "pair": pair.id}


def _api_auth(role: str) -> dict[str, str]:
    token = issue_dev_token(AuthSettings(secret=SECRET, dev_tokens=True), "api-check", [role])
    return {"Authorization": f"Bearer {token}"}


def _error_of(page: Any, field: str) -> str:
    return str(page.locator(f"#e-{field}").inner_text()).strip()


def test_desk_creates_an_identity_from_a_search_with_live_checks(
        page: Any, server: LiveServer, cell_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "agent-c", "admission")
    page.locator("#f-name:focus").wait_for()
    page.keyboard.type("faucher")  # no such patient: the search offers to create one with what was typed
    button = page.locator("form.create-from-search button")
    button.wait_for()
    tab_to(page, "form.create-from-search button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/identities/new")
    page.locator("#c-birth_name:focus").wait_for()
    assert page.input_value("#c-birth_name") == "faucher"
    page.keyboard.press("Tab")
    page.keyboard.type("LOUIS2")  # a digit: the RNIV lexical profile refuses it, said next to the field
    page.locator("#e-first_names .error").wait_for()
    api = httpx.post(f"{server.url}/identities", headers=_api_auth("admission"), json={
        "birth_name": "FAUCHER", "first_names": "LOUIS2", "birth_date": "1990-03-12", "sex": "M"})
    assert api.status_code == 422
    assert _error_of(page, "first_names") == api.json()["detail"]  # the API's own message, next to the field
    assert api.json()["detail"] == "Prénoms de naissance ne peut pas contenir de chiffres."
    assert page.get_attribute("#c-first_names", "aria-invalid") == "true"
    screenshot(page, "web-create-error", full_page=True)
    page.keyboard.press("Backspace")
    page.keyboard.type(" PAUL")
    page.locator("#e-first_names .error").wait_for(state="detached")  # corrected: the message goes
    assert page.get_attribute("#c-first_names", "aria-invalid") is None
    tab_to(page, "#c-birth_date")
    page.keyboard.type("12/03/1990")
    page.keyboard.press("Tab")  # the sex: picked, never defaulted
    page.keyboard.press("m")
    tab_to(page, "#create button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/identities/*")
    assert page.locator(".flash").inner_text() == "Identité créée (statut provisoire)."
    assert page.locator("h1").inner_text().startswith("FAUCHER, LOUIS PAUL")
    assert page.locator(".state").inner_text().strip() == "PROV Identité provisoire"
    assert "12/03/1990" in page.locator("dl.traits").first.inner_text()
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


def test_the_duplicate_warning_then_create_anyway(
        page: Any, server: LiveServer, cell_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "agent-d", "admission")
    page.goto("/app/identities/new")
    page.locator("#c-birth_name:focus").wait_for()
    page.keyboard.type("Berthier")
    page.keyboard.press("Tab")
    page.keyboard.type("Odile")
    tab_to(page, "#c-birth_date")
    page.keyboard.type("03/02/1948")
    page.keyboard.press("Tab")
    page.keyboard.press("f")
    tab_to(page, "#create button[type=submit]")
    page.keyboard.press("Enter")
    page.locator("h1", has_text="Doublon probable").wait_for()
    screenshot(page, "web-create-duplicate", full_page=True)
    candidates = page.locator("section.candidate")
    assert candidates.count() == 2
    first = candidates.first
    heading = first.locator("h2").inner_text()
    assert heading == f"Identité n° {cell_seeded['low']} · doublon certain PROV Identité provisoire"
    rows = first.locator("table.compare tbody tr").all_inner_texts()
    assert rows[0].split("\t") == ["Nom de naissance", "BERTHIER", "BERTHIER", "identique"]
    assert "Date de naissance\t03/02/1948\t03/02/1948\tidentique" in rows
    explanation = first.locator("table.explanation").inner_text()
    assert "Nom de naissance\tidentique\tmême valeur" in explanation
    assert "INS\tinconnu d'un côté\tabsent d'un côté" in explanation
    assert page.evaluate("document.activeElement.textContent").startswith("Ouvrir l'identité n°")
    tab_to(page, "#confirm-new button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/identities/*")
    created = int(page.url.rsplit("/", 1)[1])
    assert created not in (cell_seeded["low"], cell_seeded["high"])
    events = [e.split(" · ")[0] for e in page.locator("ol.timeline > li").all_inner_texts()]
    assert "Création malgré des doublons possibles" in events and events[-1] == "Création"


def test_the_cell_resolves_a_worklist_item(
        page: Any, server: LiveServer, cell_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "cell-r", "identitovigilance")
    page.goto("/app/cell")
    row = page.locator("table.counts tr", has_text="INSi : identité non trouvée")
    assert row.locator("td.num").inner_text() == "1"
    screenshot(page, "web-cell", full_page=True)
    page.locator("#wl-insi_not_found").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/cell/worklists/insi_not_found")
    screenshot(page, "web-worklist")
    page.locator("a.row-link").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/cell/worklists/insi_not_found/{cell_seeded['item']}")
    page.locator("#r-resolution:focus").wait_for()  # the first thing to choose has the focus
    page.keyboard.press("c")  # corrigée
    tab_to(page, "form button[type=submit]")
    page.keyboard.press("Enter")  # no reason: the service's message
    page.locator("#resolve-error").wait_for()
    assert page.locator("#resolve-error").inner_text() == \
        "Un motif est obligatoire pour cette modification (clôture de l'élément)."
    screenshot(page, "web-item", full_page=True)
    page.locator("#r-reason").focus()
    page.keyboard.type("Traits corrigés avec la CNI")
    tab_to(page, "form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/cell/worklists/insi_not_found")
    assert page.locator(".flash").inner_text() == f"Anomalie n° {cell_seeded['item']} close."
    assert page.locator("main").inner_text().count("Aucune anomalie ouverte.") == 1
    page.goto(f"/app/identities/{cell_seeded['item_identity']}")
    event = page.locator("ol.timeline > li").first.inner_text()
    assert event.startswith("Anomalie résolue") and "Motif : Traits corrigés avec la CNI" in event


def _merge(page: Any, keep: int, reason: str | None = None) -> None:
    page.locator(f"#keep-{keep}").focus()
    page.keyboard.press("Space")
    if reason is not None:
        page.locator("#m-reason").focus()
        page.keyboard.type(reason)
    tab_to(page, "#merge-form button[type=submit]")
    page.keyboard.press("Enter")


def test_the_cell_reviews_a_pair_merges_and_unmerges(
        page: Any, server: LiveServer, cell_seeded: dict[str, int]) -> None:
    low, high, ctx = cell_seeded["low"], cell_seeded["high"], server.ctx
    dev_sign_in(page, "cell-m", "identitovigilance")
    page.goto("/app/cell/pairs")
    screenshot(page, "web-pairs", full_page=True)
    page.locator(f"#pair-{cell_seeded['pair']}").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/cell/pairs/{cell_seeded['pair']}")
    rows = page.locator("table.compare tbody tr").all_inner_texts()
    assert "Nom de naissance\tBERTHIER\tBERTHIER\tidentique" in rows
    assert any(r.startswith("IPP\t") and r.endswith("\tdifférent") for r in rows)
    assert "Prénom(s) de naissance\tidentique\tmême valeur" in page.locator("table.explanation").inner_text()
    screenshot(page, "web-pair", full_page=True)

    identities.set_attribute(ctx, CELL, high, "DOUT", reason="Doute signalé par l'accueil")  # meanwhile
    _merge(page, low, "Même patiente, CNI vérifiée")
    refusal = page.locator("#pair-error")
    refusal.wait_for()
    assert refusal.inner_text().startswith(f"L'identité {high} porte l'attribut DOUT")  # 409, RNIV
    identities.remove_attribute(ctx, CELL, high, "DOUT", reason="Doute levé")
    _merge(page, low)  # the page shows the versions it read: the identity changed since
    page.locator("#pair-error", has_text="L'identité a été modifiée depuis votre lecture").wait_for()
    screenshot(page, "web-pair-stale", full_page=True)
    _merge(page, low)  # the page shows them as they are now, the reason kept
    page.wait_for_url(f"**/app/identities/{low}")
    assert page.locator(".flash").inner_text() == \
        f"Fusion faite : l'identité n° {high} est close dans l'identité n° {low}."

    page.goto(f"/app/identities/{high}")
    assert page.locator(".closed-banner").count() == 1
    tab_to(page, "form[action$='/unmerge'] button", limit=25)
    page.keyboard.press("Enter")  # no reason
    page.locator("#unmerge-error").wait_for()
    assert page.locator("#unmerge-error").inner_text() == \
        "Un motif est obligatoire pour cette modification (défusion)."
    screenshot(page, "web-unmerge", full_page=True)
    page.locator("#u-reason").focus()
    page.keyboard.type("Deux sœurs jumelles")
    tab_to(page, "form[action$='/unmerge'] button")
    page.keyboard.press("Enter")
    page.locator(".flash", has_text="Fusion annulée").wait_for()
    assert page.locator(".closed-banner").count() == 0
    assert page.locator("ol.timeline > li").first.inner_text().startswith("Défusion : identité rouverte")


def test_a_desk_agent_is_refused_on_the_cell_pages(
        page: Any, server: LiveServer, cell_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "agent-x", "admission")
    assert page.locator("nav a").all_inner_texts() == ["Rechercher", "Créer une identité"]  # no cell link
    for path in ("/app/cell", "/app/cell/worklists/insi_not_found", f"/app/cell/pairs/{cell_seeded['pair']}",
                 "/app/cell/pairs"):
        response = page.goto(path)
        assert response.status == 403, path
        assert page.locator("h1").inner_text() == "Accès refusé"
        assert page.locator("p.error").inner_text().startswith("Cette opération nécessite l'un des rôles :")
    screenshot(page, "web-cell-refused")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    merge = page.request.post(f"/app/cell/pairs/{cell_seeded['pair']}/merge", form={
        "csrf_token": token, "survivor": str(cell_seeded["low"]), "low_version": "1", "high_version": "1",
        "reason": "x"})
    assert merge.status == 403 and "Accès refusé" in merge.text()


def test_the_new_forms_refuse_a_forged_post(
        page: Any, server: LiveServer, cell_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "cell-f", "identitovigilance")
    forms = {
        "/app/identities": {"birth_name": "FAUCHER", "first_names": "X", "birth_date": "2000", "sex": "M"},
        "/app/identities/check": {"check": "birth_name", "birth_name": "FAUCHER"},
        "/app/identities/new": {"name": "FAUCHER"},
        f"/app/cell/worklists/insi_not_found/{cell_seeded['item']}/resolve": {"resolution": "corrected",
                                                                              "reason": "x"},
        f"/app/cell/pairs/{cell_seeded['pair']}/dismiss": {"reason": "x"},
        f"/app/cell/pairs/{cell_seeded['pair']}/merge": {"survivor": "1", "low_version": "1",
                                                         "high_version": "1", "reason": "x"},
        f"/app/identities/{cell_seeded['high']}/unmerge": {"reason": "x"},
    }
    for path, values in forms.items():
        for token in (None, "forged"):
            body = values if token is None else {**values, "csrf_token": token}
            refused = page.request.post(path, form=body)
            assert refused.status == 403 and CSRF in refused.text(), path
            assert "FAUCHER" not in refused.text()


def test_the_new_pages_have_no_serious_accessibility_violation(
        page: Any, server: LiveServer, cell_seeded: dict[str, int], axe_source: str) -> None:  # noqa: F811
    dev_sign_in(page, "cell-a11y", "identitovigilance")
    page.goto("/app/identities/new")
    focused(page, "c-birth_name")
    page.keyboard.type("DUP0NT")
    page.locator("#e-birth_name .error").wait_for()
    report = {"create (field error)": _violations(page, axe_source)}
    for field, value in (("#c-birth_name", "BERTHIER"), ("#c-first_names", "ODILE"),
                         ("#c-birth_date", "03/02/1948")):
        page.fill(field, value)
    page.select_option("#c-sex", "F")
    page.locator("#create button[type=submit]").click()
    page.locator("#confirm-new").wait_for()
    report["duplicate warning"] = _violations(page, axe_source)
    for path in ("/app/cell", "/app/cell/worklists/insi_not_found", "/app/cell/worklists/potential_duplicate",
                 f"/app/cell/worklists/insi_not_found/{cell_seeded['item']}", "/app/cell/pairs",
                 f"/app/cell/pairs/{cell_seeded['pair']}"):
        page.goto(path)
        report[path] = _violations(page, axe_source)
    page.goto("/app/cell/pairs")
    page.locator("a.row-link").first.click()  # an open pair, with its decision forms
    page.locator("#merge-form").wait_for()
    report["open pair"] = _violations(page, axe_source)
    assert {name: v for name, v in report.items() if v} == {}


def test_no_patient_trait_in_the_server_log(server: LiveServer, cell_seeded: dict[str, int]) -> None:
    log = server.log()
    assert "POST /app/identities/check HTTP/1.1" in log  # the log is captured
    leaked = [trait for trait in TRAITS if trait.lower() in log.lower()]
    assert leaked == [], leaked
    assert httpx.get(f"{server.url}/health").status_code == 200
