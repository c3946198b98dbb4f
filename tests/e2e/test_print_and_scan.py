"""Printing and scanning in a real browser, keyboard only: the INS label sheet and cover page of a
QUAL identity downloaded from its page, the label sheet rendered by pdfium and its DataMatrix
decoded by zxing-cpp (independent of libdmtx, which drew it) back to the identity's INS and traits;
a DataMatrix typed by a keyboard-mode scanner (GS as Ctrl+], or dropped) opening the identity,
and a code whose traits differ refused with the difference shown. axe on every new state."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from app.db.identities import IdentityRepository
from app.db.tables import IdentityRow
from app.domain.datamatrix import GS, InsPayload, build_payload, parse_payload
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.domain.traits import Sex
from app.services import identities
from app.services.identities import TraitsInput
from tests.documents_support import zxing_bytes
from tests.e2e.conftest import DESK, LiveServer, dev_sign_in, focused, screenshot, tab_to
from tests.e2e.test_accessibility import _violations, axe_source  # noqa: F401 (a fixture)

MATRICULE = "277010115400329"  # the specification's example patient
TRAITS = ("GARCIA", "HAMMADI", "SARAH", "277010115400329", "21-01-1977", "21/01/1977", "1977-01-21")
PRINTED = InsPayload(MATRICULE, OID_NIR, "SARAH-LOU ANNA", "GARCIA-HAMMADI", Sex.F, date(1977, 1, 21),
                     "01154")


@pytest.fixture(scope="module")
def qual(server: LiveServer) -> dict[str, Any]:
    """A QUAL identity holding the spec example's INS (its qualification is another screen's test)."""
    ctx = server.ctx
    created = identities.create_identity(ctx, DESK, TraitsInput(
        birth_name="GARCIA-HAMMADI", first_names="SARAH-LOU ANNA", birth_date="1977-01-21", sex="F",
        birth_place_code="01154", used_name="MARTIN"))
    with Session(ctx.engine) as session:
        IdentityRepository(session).add_ins(created.id, InsRecord(Ins(MATRICULE, OID_NIR), True, "INSI"),
                                            ctx.now())
        row = session.get(IdentityRow, created.id)
        assert row is not None
        row.status = "QUAL"
        session.add(row)
        session.commit()
    return {"id": created.id, "ipp": created.ipp}


def _download(page: Any, button: str) -> bytes:
    """Press Enter on a focused print button and return the PDF the browser downloaded."""
    tab_to(page, button, limit=40)
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    path = info.value.path()
    return Path(path).read_bytes()


def _symbols_and_text(pdf: bytes, index: int) -> tuple[list[bytes], str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[index]
        return zxing_bytes(page.render(scale=300 / 72).to_pil()), page.get_textpage().get_text_range()
    finally:
        document.close()


def test_label_sheet_printed_from_the_identity_page_decodes_to_the_identity(
        page: Any, server: LiveServer, qual: dict[str, Any], seeded: dict[str, int],
        axe_source: str) -> None:  # noqa: F811
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    dev_sign_in(page, "print-1", "documents")
    page.keyboard.type("garcia")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/identities/{qual['id']}")
    expect(page.locator("#print-labels")).to_be_enabled()  # the panel came (htmx, on load)
    report = {"identity (print panel)": _violations(page, axe_source)}
    screenshot(page, "web-print-panel", full_page=True)

    tab_to(page, "#l-layout", limit=40)
    page.keyboard.press("ArrowDown")  # 24 x 70x37 (the default) -> 21 x 63.5x38.1
    assert page.locator("#l-layout").input_value() == "3x7-63.5x38.1"
    page.keyboard.press("Tab")
    focused(page, "l-start")
    page.keyboard.press("Control+A")
    page.keyboard.type("20")  # positions 1-19 already used
    page.keyboard.press("Tab")
    focused(page, "l-count")
    page.keyboard.type("3")
    pdf = _download(page, "#print-labels")

    assert len(pypdfium2.PdfDocument(pdf)) == 2  # 20, 21 on the first sheet, 1 on the next
    symbols, text = _symbols_and_text(pdf, 0)
    assert len(symbols) == 2 and symbols[0] == symbols[1]
    decoded = parse_payload(symbols[0].decode("latin-1"))  # zxing's raw bytes, GS included
    assert decoded == PRINTED
    assert symbols[0] == build_payload(PRINTED).encode() and GS.encode() in symbols[0]
    for shown in ("GARCIA-HAMMADI", "SARAH-LOU ANNA", "Nom utilisé : MARTIN", "21/01/1977", "Sexe F",
                  "01154", "INS 2 77 01 01 154 003 29 (NIR)", f"IPP {qual['ipp']}"):
        assert shown in text, shown
    assert len(_symbols_and_text(pdf, 1)[0]) == 1

    cover = _download(page, "#print-cover")
    assert _symbols_and_text(cover, 0)[0] == [build_payload(PRINTED).encode()]
    log = server.log()
    assert f"INS printed for identity {qual['id']} by print-1 (label sheet 3x7-63.5x38.1 x3)" in log
    assert f"INS printed for identity {qual['id']} by print-1 (cover page)" in log

    page.goto(f"/app/identities/{seeded['one']}")  # VALI: no INS, said why; labels without INS
    refusal = page.locator("#print-refusal")
    expect(refusal).to_contain_text("L'INS n'est imprimé que pour une identité qualifiée (statut VALI")
    expect(page.locator("#print-cover")).to_be_disabled()
    expect(page.locator("#print-labels")).to_have_text("Imprimer des étiquettes sans INS")
    report["identity (print refused)"] = _violations(page, axe_source)
    screenshot(page, "web-print-refused", full_page=True)
    tab_to(page, "#l-count", limit=40)
    page.keyboard.type("2")
    plain = _download(page, "#print-labels")
    symbols, text = _symbols_and_text(plain, 0)
    assert symbols == [] and "INS" not in text  # neither the matricule nor a DataMatrix
    assert text.count("DUPONTEL") == 2 and text.count("Nom utilisé : MARTINEZ") == 2 and "JEANNE" in text
    assert "17/04/1961" in text and "MARIE" not in text.replace("MARTINEZ", "")  # the first first name
    assert f"labels printed (no INS) for identity {seeded['one']} by print-1 (label sheet 3x8-70x37 x2)" in (
        server.log())
    assert {name: v for name, v in report.items() if v} == {}
    assert [u for u in urls if any(t.lower() in u.lower() for t in (*TRAITS, "garcia"))] == []


def test_a_scanner_opens_the_identity_or_says_who_it_is_not(
        page: Any, server: LiveServer, qual: dict[str, Any], axe_source: str) -> None:  # noqa: F811
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    dev_sign_in(page, "desk-scan", "admission")
    payload = build_payload(PRINTED)

    tab_to(page, "#f-scan", limit=20)  # the scanner field (Alt+S in the browser)
    parts = payload.split(GS)
    for index, part in enumerate(parts):  # a HID scanner sends GS as Ctrl+]
        page.keyboard.type(part)
        if index < len(parts) - 1:
            page.keyboard.press("Control+BracketRight")
    assert page.locator("#f-scan").input_value() == payload
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/identities/{qual['id']}")
    expect(page.locator(".flash")).to_have_text(
        f"DataMatrix INS lu : identité n° {qual['id']}, INS et traits concordants.")

    page.keyboard.press("Escape")  # back to the search: the cursor is in the name field
    page.wait_for_url("**/app/")
    focused(page, "f-name")
    page.keyboard.type(payload.replace(GS, ""))  # scanned into the name field, separators dropped
    focused(page, "f-scan")
    assert page.locator("#f-name").input_value() == ""
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/identities/{qual['id']}")

    page.goto("/app/")
    focused(page, "f-name")
    other = build_payload(InsPayload(MATRICULE, OID_NIR, "SARAH-LOU ANNA", "GARCIA", Sex.F, date(1977, 1, 21),
                                     "01154"))
    page.keyboard.type(other.replace(GS, ""))
    page.keyboard.press("Enter")
    message = page.locator("#scan-message")
    expect(message).to_contain_text(f"Ce n'est pas l'identité enregistrée : l'INS est celui de l'identité "
                                    f"n° {qual['id']}, mais les traits du DataMatrix diffèrent "
                                    "(Nom de naissance)")
    differs = page.locator("#scan-result tr.cmp-differs")
    expect(differs).to_have_count(1)
    assert differs.inner_text().split("\t")[:3] == ["Nom de naissance", "GARCIA", "GARCIA-HAMMADI"]
    focused(page, "f-scan")  # ready for the next scan
    screenshot(page, "web-scan-differs", full_page=True)
    report = {"search (scan differs)": _violations(page, axe_source)}

    page.keyboard.type("DUPONT JEAN")
    page.keyboard.press("Enter")
    expect(page.locator("#scan-message")).to_contain_text("Ce contenu n'est pas un DataMatrix INS lisible")
    report["search (scan invalid)"] = _violations(page, axe_source)
    assert {name: v for name, v in report.items() if v} == {}
    assert [u for u in urls if any(t.lower() in u.lower() for t in TRAITS) or "IS01" in u] == []


def test_no_trait_in_the_server_log(server: LiveServer, qual: dict[str, Any]) -> None:
    log = server.log()
    assert "desk scan by desk-scan: open" in log  # the scans did reach the server
    assert [t for t in TRAITS if t in log] == []
