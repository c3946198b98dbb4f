"""The desk's INSi screens in a real browser, keyboard only: search, create, INSi retrieve, the
side-by-side comparison, accept, the identity document recorded, the identity QUAL, verify; a
proposal rejected with a reason (after the CR 02 attempts); INSi finding nobody (the message, the
worklist item). The live server calls the INSi simulator over a real socket, on SQLite and
PostgreSQL; CSRF on every new form, axe on every new page, no trait in the server's log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from app.domain.datamatrix import parse_payload
from app.services import identities
from app.services.identities import TraitsInput
from app.simulator.server import SimulatorServer
from tests.cli_support import free_port
from tests.e2e.conftest import (
    DESK,
    LiveServer,
    _database,
    dev_sign_in,
    focused,
    running_server,
    screenshot,
    tab_to,
)
from tests.e2e.test_accessibility import _violations, axe_source  # noqa: F401 (a fixture)
from tests.e2e.test_print_and_scan import _download, _symbols_and_text

# Traits and matricules of this module's patients: never in a log line.
TRAITS = ("ADRUN", "LEFORT", "HOUILLES", "PANNE", "31/12/1975", "1975-12-31", "1985-04-12", "1993-01-27",
          "2751263220749", "2850469123044")
CSRF = "Formulaire expiré ou falsifié"
IDENTITY_PAGE = re.compile(r".*/app/identities/\d+$")


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    """The INSi simulator (its persons: app/simulator/personas.json) on a real socket."""
    with SimulatorServer() as sim:
        yield sim


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           simulator: SimulatorServer) -> Iterator[LiveServer]:
    """The application on each engine, its INSi gateway on the simulator (the development default)."""
    tmp = tmp_path_factory.mktemp(f"web-insi-{request.param}")
    with running_server(_database(request.param, request, tmp), tmp, free_port(),
                        IDENTITO_INSI__ENDPOINT=simulator.url) as live:
        yield live


@pytest.fixture(scope="module")
def insi_seeded(server: LiveServer) -> dict[str, int]:
    """LEFORT ANNE (two namesakes at INSi, told apart by the birth place), HOUILLES PIERRE (unknown
    to INSi) and PANNE SERVICE (INSi answers "unavailable"), all provisional."""
    ctx = server.ctx
    lefort = identities.create_identity(ctx, DESK, TraitsInput(
        birth_name="LEFORT", first_names="ANNE", birth_date="1985-04-12", sex="F", birth_place_code="69123"))
    houilles = identities.create_identity(ctx, DESK, TraitsInput(
        birth_name="HOUILLES", first_names="PIERRE", birth_date="1993-01-27", sex="M"))
    panne = identities.create_identity(ctx, DESK, TraitsInput(  # a simulator person answering a fault
        birth_name="PANNE", first_names="SERVICE", birth_date="1970-01-01", sex="M",
        birth_place_code="75056"))
    return {"lefort": lefort.id, "houilles": houilles.id, "panne": panne.id}


def _open(page: Any, name: str) -> None:
    """From the search page: type the name, open the first result."""
    focused(page, "f-name")
    page.keyboard.type(name)
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(IDENTITY_PAGE)


def _cells(page: Any) -> list[list[str]]:
    return [[c.strip() for c in row.locator("th, td").all_inner_texts()]
            for row in page.locator("table.compare tbody tr").all()]


def test_desk_creates_retrieves_accepts_records_the_document_then_verifies(
        page: Any, server: LiveServer) -> None:
    dev_sign_in(page, "agent-insi", "admission")
    page.keyboard.type("adrun")  # not known here yet: create it from the search
    page.locator("form.create-from-search button").wait_for()
    tab_to(page, "form.create-from-search button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/identities/new")
    focused(page, "c-birth_name")
    page.keyboard.press("Tab")
    page.keyboard.type("ZOE")
    tab_to(page, "#c-birth_date")
    page.keyboard.type("31/12/1975")
    page.keyboard.press("Tab")
    page.keyboard.press("f")
    tab_to(page, "#create button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(IDENTITY_PAGE)
    identity_url = page.url
    expect(page.locator(".state")).to_have_text("PROV Identité provisoire")

    tab_to(page, "#insi-retrieve", limit=25)  # the Actions area comes right after the status
    page.keyboard.press("Enter")
    page.wait_for_url("**/insi/proposals/*")
    focused(page, "insi-accept")
    assert page.title().startswith("Réponse de l'INSi")
    assert page.locator("#insi-cr").inner_text() == "00 – OK : une identité trouvée"
    assert page.locator("#insi-attempts").count() == 0  # one search was enough
    assert page.locator(".flash").inner_text().startswith(  # the birth place INSi adds: an item for the cell
        "Des traits diffèrent de ceux de l'INSi : anomalie n° ")
    assert _cells(page) == [
        ["Nom de naissance", "ADRUN", "ADRUN", "identique"],
        ["Prénom(s) de naissance", "ZOE", "ZOE", "identique"],
        ["Premier prénom de naissance", "ZOE", "ZOE", "identique"],
        ["Sexe", "F", "F", "identique"],
        ["Date de naissance", "31/12/1975", "31/12/1975", "identique"],
        ["Lieu de naissance (code INSEE)", "—", "63220", "absent"],
    ]
    assert page.locator("#insi-ins").inner_text() == "275126322074974 (1.2.250.1.213.1.4.8)"
    assert page.locator("#insi-status-after").inner_text().strip() == "RECUP Identité récupérée"
    screenshot(page, "web-insi-compare", full_page=True)
    page.keyboard.press("Enter")  # Accepter
    page.wait_for_url(identity_url)
    expect(page.locator(".flash")).to_have_text(
        "Identité acceptée depuis l'INSi : statut RECUP (Identité récupérée).")
    assert page.locator(".state").inner_text().strip() == "RECUP Identité récupérée"
    assert "63220" in page.locator("dl.traits").first.inner_text()  # the INSi traits, as returned
    assert "275126322074974" in page.locator("#h-ins + dl").inner_text()

    tab_to(page, "#doc-submit", limit=25)  # sent without a type: the service's message, nothing written
    page.keyboard.press("Enter")
    page.locator("#doc-error").wait_for()
    focused(page, "d-type")
    assert page.locator("#doc-error").inner_text() == \
        "Choisissez le type de justificatif d'identité (pas de valeur par défaut)."
    assert page.get_attribute("#d-type", "aria-invalid") == "true"
    page.keyboard.press("c")  # CN – Carte nationale d'identité
    assert page.input_value("#d-type") == "CN"
    page.keyboard.press("Tab")
    page.keyboard.type("31/12/2035")
    tab_to(page, "#doc-submit")
    page.keyboard.press("Enter")
    page.wait_for_url(identity_url)
    expect(page.locator(".flash")).to_have_text(
        "Justificatif CN enregistré : statut QUAL (Identité qualifiée).")
    assert page.locator(".state").inner_text().strip() == "QUAL Identité qualifiée"
    assert "INS qualifiée" in page.locator("section", has_text="Justificatifs").inner_text()
    history = [h.split(" · ")[0] for h in page.locator("ol.timeline > li").all_inner_texts()]
    assert history[0] == "Justificatif vérifié" and history[-1] == "Création"
    assert "INSi : identité acceptée" in history
    screenshot(page, "web-insi-qual", full_page=True)

    tab_to(page, "#insi-verify", limit=25)
    page.keyboard.press("Enter")
    page.wait_for_url(identity_url)
    expect(page.locator(".flash")).to_have_text(
        "L'INSi confirme l'INS de cette identité (date du dernier appel INSi mise à jour).")
    assert page.locator(".state").inner_text().strip() == "QUAL Identité qualifiée"
    assert page.locator("ol.timeline > li").first.inner_text().startswith("INSi : INS vérifiée")

    # The desk prints the patient's labels: one label, keyboard only, decoded by an independent reader.
    expect(page.locator("#print-labels")).to_be_enabled()  # the print panel came (htmx, on load)
    assert page.locator("#print-cover").count() == 0  # the cover page is the document pipelines'
    tab_to(page, "#l-count", limit=60)
    page.keyboard.type("1")
    pdf = _download(page, "#print-labels")
    symbols, text = _symbols_and_text(pdf, 0)
    identity_id = int(identity_url.rsplit("/", 1)[1])
    identity = identities.read_identity(server.ctx, identity_id)
    assert identity.active_ins is not None
    assert len(symbols) == 1
    printed = parse_payload(symbols[0].decode("latin-1"))
    assert printed.matricule == identity.active_ins.matricule
    assert (printed.birth_name, printed.first_names, printed.birth_date) == (
        "ADRUN", identity.traits.first_names, identity.traits.birth_date)
    assert "ADRUN" in text and f"IPP {identity.ipp}" in text
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


def test_a_proposal_found_after_cr02_is_rejected_with_a_reason(
        page: Any, server: LiveServer, insi_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "agent-rej", "admission")
    _open(page, "lefort")
    tab_to(page, "#insi-retrieve", limit=25)
    page.keyboard.press("Enter")
    page.wait_for_url("**/insi/proposals/*")
    focused(page, "insi-accept")
    attempts = [row.split("\t") for row in page.locator("#insi-attempts tbody tr").all_inner_texts()]
    assert attempts == [["1", "Premier prénom de naissance", "02 – plusieurs identités trouvées"],
                        ["2", "Tous les prénoms et le lieu de naissance", "00 – une identité trouvée"]]
    assert {row[3] for row in _cells(page)} == {"identique"}
    assert page.locator("#insi-ins").inner_text().startswith("285046912304496")
    tab_to(page, "#insi-reject")  # no reason: refused with the service's message
    page.keyboard.press("Enter")
    page.locator("#reject-error").wait_for()  # the new page first: never poll the focus across a navigation
    focused(page, "insi-reason")
    assert page.locator("#reject-error").inner_text() == \
        "Un motif est obligatoire pour cette modification (refus de la proposition)."
    screenshot(page, "web-insi-reject-error", full_page=True)
    page.keyboard.type("La patiente présente n'est pas née à Lyon")
    tab_to(page, "#insi-reject")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/identities/{insi_seeded['lefort']}")
    expect(page.locator(".flash")).to_have_text("Proposition de l'INSi refusée ; l'identité est inchangée.")
    assert page.locator(".state").inner_text().strip() == "PROV Identité provisoire"
    assert "Aucune INS enregistrée." in page.locator("#h-ins + *").inner_text()
    top = page.locator("ol.timeline > li").first.inner_text()
    assert top.startswith("INSi : proposition refusée")
    assert "Motif : La patiente présente n'est pas née à Lyon" in top


def test_insi_finds_nobody_the_desk_is_told_and_the_cell_gets_an_item(
        page: Any, server: LiveServer, insi_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "cell-insi", "identitovigilance")
    _open(page, "houilles")
    tab_to(page, "#insi-retrieve", limit=25)
    page.keyboard.press("Enter")
    page.locator("#h-outcome").wait_for()
    focused(page, "insi-back")
    assert page.locator("#h-outcome").inner_text() == \
        "L'INSi n'a trouvé aucune identité correspondant à ces traits."
    assert page.locator("#insi-cr").inner_text() == "01 – Aucune identite trouvee : aucune identité trouvée"
    assert page.locator("#insi-hint").inner_text() == (
        "Conseil : Non trouvé : vérifiez chaque trait strict sur un justificatif d'identité, puis relancez.")
    item = page.locator("#insi-item")
    assert item.inner_text().startswith("Anomalie n° ")
    screenshot(page, "web-insi-not-found", full_page=True)
    tab_to(page, "#insi-item a")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/cell/worklists/insi_not_found/*")
    assert "INSi : identité non trouvée" in page.locator("h1").inner_text()
    assert f"Identité n° {insi_seeded['houilles']}" in page.locator("dl.traits").first.inner_text()


def test_insi_unavailable_is_said_next_to_the_actions_never_as_not_found(
        page: Any, server: LiveServer, insi_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "agent-panne", "admission")
    _open(page, "panne")
    tab_to(page, "#insi-retrieve", limit=25)
    page.keyboard.press("Enter")
    error = page.locator("#insi-error")
    error.wait_for()
    assert error.get_attribute("role") == "alert"
    assert error.inner_text().startswith("Le téléservice INSi est momentanément indisponible")
    assert error.inner_text().endswith("réessayez dans quelques minutes.")
    assert page.locator("#h-outcome").count() == 0  # not a "not found"
    assert page.locator(".state").inner_text().strip() == "PROV Identité provisoire"


def test_the_insi_forms_refuse_a_forged_post(
        page: Any, server: LiveServer, insi_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "agent-f", "admission")
    n = insi_seeded["houilles"]
    proposal = "00000000-0000-0000-0000-000000000000"
    forms = {
        f"/app/identities/{n}/insi/retrieve": {},
        f"/app/identities/{n}/insi/verify": {},
        f"/app/identities/{n}/insi/proposals/{proposal}/accept": {"version": "1"},
        f"/app/identities/{n}/insi/proposals/{proposal}/reject": {"reason": "x"},
        f"/app/identities/{n}/documents": {"type": "CN", "expires_on": "31/12/2035", "version": "1"},
    }
    for path, values in forms.items():
        for token in (None, "forged"):
            body = values if token is None else {**values, "csrf_token": token}
            refused = page.request.post(path, form=body)
            assert refused.status == 403 and CSRF in refused.text(), path
    page.goto(f"/app/identities/{n}")
    assert page.locator(".state").inner_text().strip() == "PROV Identité provisoire"  # nothing written


def test_a_documents_role_sees_no_insi_action(
        page: Any, server: LiveServer, insi_seeded: dict[str, int]) -> None:
    dev_sign_in(page, "docs-1", "documents")
    page.goto(f"/app/identities/{insi_seeded['lefort']}")
    expect(page.locator("h1")).to_contain_text("LEFORT")
    assert page.locator("#actions").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"/app/identities/{insi_seeded['lefort']}/insi/retrieve",
                                form={"csrf_token": token})
    assert refused.status == 403 and "Accès refusé" in refused.text()


def test_the_insi_pages_have_no_serious_accessibility_violation(
        page: Any, server: LiveServer, insi_seeded: dict[str, int], axe_source: str) -> None:  # noqa: F811
    dev_sign_in(page, "cell-a11y-insi", "identitovigilance")
    page.goto(f"/app/identities/{insi_seeded['houilles']}")
    report = {"identity with actions": _violations(page, axe_source)}
    page.locator("#d-expires").fill("32/13/2035")
    page.locator("#doc-submit").click()
    page.locator("#doc-error").wait_for()
    assert page.locator("#doc-error").inner_text() == \
        "Date d'expiration invalide : saisissez-la en JJ/MM/AAAA."
    report["document form error"] = _violations(page, axe_source)
    page.locator("#insi-retrieve").click()
    page.locator("#h-outcome").wait_for()
    report["INSi not found"] = _violations(page, axe_source)
    lefort = insi_seeded["lefort"]
    page.goto(f"/app/identities/{lefort}")
    page.locator("#insi-retrieve").click()
    page.wait_for_url("**/insi/proposals/*")
    report["INSi comparison (CR 02 attempts)"] = _violations(page, axe_source)
    page.locator("#insi-reject").click()
    page.locator("#reject-error").wait_for()
    report["INSi reject without reason"] = _violations(page, axe_source)
    assert {name: v for name, v in report.items() if v} == {}


def test_no_patient_trait_in_the_server_log(server: LiveServer, insi_seeded: dict[str, int]) -> None:
    log = server.log()
    assert "/insi/retrieve HTTP/1.1" in log  # the log is captured
    leaked = [trait for trait in TRAITS if trait.lower() in log.lower()]
    assert leaked == [], leaked
