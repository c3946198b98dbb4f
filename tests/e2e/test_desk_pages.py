"""The desk pages in a real browser: dev sign-in, search as you type, the identity page with the
keyboard only, a merged identity, sign-out; CSRF refusal, the CSP, no trait in the server's log."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, dev_sign_in, focused, screenshot, tab_to

# Traits that must never appear in a log line (checked at the end of the module).
TRAITS = ("DUPONTEL", "JEANNE", "MARTINEZ", "1961-04-17", "17/04/1961", "LAVERGNE", "ROSALIE")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def test_desk_agent_finds_and_opens_an_identity_with_the_keyboard_only(
        page: Any, server: LiveServer, seeded: dict[str, int]) -> None:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    dev_sign_in(page, "agent-1", "admission")
    assert page.title() == "Rechercher une identité – Identito"
    focused(page, "f-name")
    page.keyboard.type("dupon")  # a prefix of the birth name, as typed
    expect(page.locator("#results tbody tr")).to_have_count(1)
    row = page.locator("#results tbody tr").first
    assert "DUPONTEL" in row.inner_text() and "MARTINEZ" in row.inner_text()
    badges = row.locator(".badge").all_inner_texts()
    assert badges == ["VALI Identité validée", "HOMA Homonyme avéré"]
    screenshot(page, "web-search")

    page.keyboard.press("ArrowDown")  # from the field to the first result
    assert page.evaluate("document.activeElement.textContent") == "DUPONTEL"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/identities/{seeded['one']}")
    assert page.locator("h1").inner_text().startswith("DUPONTEL (nom utilisé MARTINEZ), JEANNE MARIE")
    assert page.locator(".state").inner_text().strip() == "VALI Identité validée HOMA Homonyme avéré"
    assert "CN" in page.locator("section", has_text="Justificatifs").inner_text()
    history = page.locator("ol.timeline > li").all_inner_texts()
    assert [h.split(" · ")[0] for h in history] == ["Attribut posé", "Justificatif vérifié", "Création"]
    assert "Motif : Homonyme confirmé par la cellule" in history[0]
    assert "Par cell-seed (identitovigilance)" in history[0]
    assert "Statut : PROV → VALI" in history[1]
    screenshot(page, "web-identity", full_page=True)

    page.keyboard.press("Escape")  # back to the search
    page.wait_for_url("**/app/")
    tab_to(page, "form.signout button")
    page.keyboard.press("/")  # the visible shortcut back to the name field
    focused(page, "f-name")
    tab_to(page, "form.signout button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/signin")
    assert page.locator(".flash").inner_text() == "Vous êtes déconnecté(e)."
    page.goto("/app/")  # the session is gone on the server
    assert page.url.endswith("/app/signin")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
    assert any(url.endswith("/app/search") for url in urls)  # the searches went by POST, traits in the body
    assert [url for url in urls if any(t.lower() in url.lower() for t in (*TRAITS, "dupon"))] == []


def test_a_merged_identity_is_closed_and_leads_to_its_survivor(
        page: Any, server: LiveServer, seeded: dict[str, int]) -> None:
    dev_sign_in(page, "cell-1", "identitovigilance")
    page.keyboard.type("LAVERGNE")
    # Retried until the results answer the whole name (a slow machine may show a prefix's first).
    expect(page.locator("#results tbody tr")).to_have_count(1)  # the absorbed one is not an active match
    page.goto(f"/app/identities/{seeded['absorbed']}")
    screenshot(page, "web-merged")
    banner = page.locator(".closed-banner")
    expect(banner).to_contain_text(f"Identité close : fusionnée dans l'identité n° {seeded['survivor']}.")
    banner.locator("a").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/identities/{seeded['survivor']}")
    expect(page.locator(".closed-banner")).to_have_count(0)
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Fusion : une identité absorbée")
    expect(timeline).to_contain_text("Motif : Doublon créé aux urgences")
    expect(timeline).to_contain_text(f"Identité absorbée n° : — → {seeded['absorbed']}")


def test_forged_forms_are_refused_and_pages_carry_the_csp(
        page: Any, server: LiveServer, seeded: dict[str, int]) -> None:
    response = httpx.get(f"{server.url}/app/signin")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/app" in cookie
    assert httpx.get(f"{server.url}/").headers["location"] == "/app/"
    assert httpx.get(f"{server.url}/docs").status_code == 200

    dev_sign_in(page, "agent-2", "admission")
    forged = page.request.post("/app/search", form={"name": "DUPONTEL"})  # the session cookie, no token
    assert forged.status == 403
    assert "Formulaire expiré ou falsifié" in forged.text()
    assert "DUPONTEL" not in forged.text()
    wrong = page.request.post("/app/signout", form={"csrf_token": "forged"})
    assert wrong.status == 403
    page.goto("/app/")
    assert page.url.endswith("/app/")  # still signed in: the forged sign-out did nothing
    cookie = next(c for c in page.context.cookies() if c["name"] == "identito_session")
    forged_cookie = cookie["value"].rsplit(".", 1)[0] + ".forged"  # the same session id, a made-up signature
    tampered = httpx.get(f"{server.url}/app/", cookies={"identito_session": forged_cookie})
    assert tampered.status_code == 303 and tampered.headers["location"] == "/app/signin"
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    genuine = page.request.post("/app/search", form={"name": "DUPONTEL", "csrf_token": token})
    assert genuine.status == 200 and "DUPONTEL" in genuine.text()


def test_no_patient_trait_in_the_server_log(server: LiveServer, seeded: dict[str, int]) -> None:
    log = server.log()
    assert re.search(r'"POST /app/search HTTP/1.1" 200', log)  # the log is captured
    assert f"GET /app/identities/{seeded['one']} " in log
    leaked = [trait for trait in TRAITS if trait.lower() in log.lower()]
    assert leaked == [], leaked
