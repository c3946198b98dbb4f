"""The printing panel, the PDFs and the scanner field over HTTP (both engines; pages in English
here, the test settings' language)."""

from __future__ import annotations

import logging

import pypdfium2
from fastapi.testclient import TestClient

from app.domain.datamatrix import GS
from tests.api.test_documents_api import DUPONT, MATRICULE, PAYLOAD, create
from tests.api.test_web_pages import _sign_in, _token
from tests.documents_support import zxing_bytes


def _panel(client: TestClient, identity_id: int) -> str:
    page = client.get(f"/app/identities/{identity_id}")
    assert f'hx-get="/app/identities/{identity_id}/print"' in page.text  # loaded by htmx
    panel = client.get(f"/app/identities/{identity_id}/print", headers={"HX-Request": "true"})
    assert panel.status_code == 200 and "<html" not in panel.text
    return panel.text


def test_a_qual_identity_offers_both_prints_and_downloads_the_pdfs(client, settings, caplog) -> None:
    identity_id = create(client, settings)
    _sign_in(client, "documents")
    panel = _panel(client, identity_id)
    assert "Print the INS cover page" in panel and "Print a label sheet" in panel
    assert 'value="3x8-70x37" selected' in panel and "21 labels 63.5 × 38.1 mm (3 × 7)" in panel
    token = _token(client, "/app/")
    caplog.set_level(logging.INFO)
    cover = client.post(f"/app/identities/{identity_id}/cover-page", data={"csrf_token": token})
    assert cover.status_code == 200 and cover.headers["content-type"] == "application/pdf"
    disposition = f'attachment; filename="page-de-garde-ins-{identity_id}.pdf"'
    assert cover.headers["content-disposition"] == disposition
    labels = client.post(f"/app/identities/{identity_id}/labels", data={
        "csrf_token": token, "layout": "3x7-63.5x38.1", "start": "19", "count": "2"})
    assert labels.status_code == 200 and labels.headers["cache-control"] == "no-store"
    page = pypdfium2.PdfDocument(labels.content)[0]
    assert zxing_bytes(page.render(scale=200 / 72).to_pil()) == [PAYLOAD.encode()] * 2
    printed = [r.getMessage() for r in caplog.records if "INS printed" in r.getMessage()]
    assert printed == [f"INS printed for identity {identity_id} by agent-9 (cover page)",
                       f"INS printed for identity {identity_id} by agent-9 (label sheet 3x7-63.5x38.1 x2)"]


def test_bad_label_fields_say_the_range_and_a_forged_form_is_refused(client, settings) -> None:
    identity_id = create(client, settings)
    _sign_in(client, "identitovigilance")
    token = _token(client, "/app/")
    for fields, message in (({"start": "25"}, "between 1 and 24"), ({"start": "abc"}, "between 1 and 24"),
                            ({"count": "500"}, "between 1 and 120"),
                            ({"layout": "99x99"}, "Unknown label sheet format 99x99")):
        refused = client.post(f"/app/identities/{identity_id}/labels", data={"csrf_token": token, **fields})
        assert refused.status_code == 422 and message in refused.text and 'role="alert"' in refused.text
    forged = client.post(f"/app/identities/{identity_id}/labels", data={"start": "1"})
    assert forged.status_code == 403 and "application/pdf" not in forged.headers["content-type"]


def test_a_non_qual_identity_says_why_and_offers_labels_without_ins(client, settings, caplog) -> None:
    identity_id = create(client, settings, "RECUP")  # its INS is held, and must never be printed
    _sign_in(client, "documents", "admission")
    panel = _panel(client, identity_id)
    assert "The INS is printed only for a qualified identity (status RECUP; missing:" in panel
    assert panel.count("disabled") == 1 and 'id="print-cover"' in panel  # the cover page: no
    assert "Print labels without INS" in panel and 'name="with_ins" value="false"' in panel
    token = _token(client, "/app/")
    refused = client.post(f"/app/identities/{identity_id}/cover-page", data={"csrf_token": token})
    assert refused.status_code == 409 and "printed only for a qualified identity" in refused.text
    refused = client.post(f"/app/identities/{identity_id}/labels", data={"csrf_token": token})
    assert refused.status_code == 409 and "printed only for a qualified identity" in refused.text
    client.post("/app/signout", data={"csrf_token": _token(client, "/app/")})

    _sign_in(client, "admission")  # the desk labels the patient's tubes and files all the same
    panel = _panel(client, identity_id)
    assert "The INS is printed only for a qualified identity (status RECUP; missing:" in panel
    assert "disabled" not in panel and "print-cover" not in panel and 'id="print-labels"' in panel
    caplog.set_level(logging.INFO)
    sheet = client.post(f"/app/identities/{identity_id}/labels", data={
        "csrf_token": _token(client, "/app/"), "with_ins": "false", "count": "3"})
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    assert sheet.headers["content-disposition"] == f'attachment; filename="etiquettes-{identity_id}.pdf"'
    page = pypdfium2.PdfDocument(sheet.content)[0]
    text = page.get_textpage().get_text_range()
    assert text.count("DUPONT") == 3 and text.count("IPP ") == 3 and "INS" not in text
    assert MATRICULE not in text.replace(" ", "")
    assert zxing_bytes(page.render(scale=200 / 72).to_pil()) == []  # no DataMatrix at all
    said = [r.getMessage() for r in caplog.records if "printed" in r.getMessage()]
    assert said == [
        f"labels printed (no INS) for identity {identity_id} by agent-9 (label sheet 3x8-70x37 x3)"]
    client.post("/app/signout", data={"csrf_token": _token(client, "/app/")})
    _sign_in(client, "integration")  # a role that prints nothing sees no panel
    assert client.get(f"/app/identities/{identity_id}/print").text == ""


def test_the_desk_prints_the_label_sheet_but_not_the_cover_page(client, settings) -> None:
    identity_id = create(client, settings)
    _sign_in(client, "admission")
    panel = _panel(client, identity_id)
    assert f'action="/app/identities/{identity_id}/labels"' in panel and "cover-page" not in panel
    token = _token(client, "/app/")
    sheet = client.post(f"/app/identities/{identity_id}/labels", data={"csrf_token": token, "count": "2"})
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
    cover = client.post(f"/app/identities/{identity_id}/cover-page", data={"csrf_token": token})
    assert cover.status_code == 403 and "application/pdf" not in cover.headers["content-type"]


def _scan(client: TestClient, content: str, **kwargs: object):
    return client.post("/app/scan", data={"csrf_token": _token(client, "/app/"), "content": content},
                       follow_redirects=False, **kwargs)


def test_the_scanner_field_opens_a_qual_identity_whatever_the_separators(client, settings, caplog) -> None:
    identity_id = create(client, settings)
    _sign_in(client, "admission")
    caplog.set_level(logging.INFO)
    for typed in (PAYLOAD, PAYLOAD.replace(GS, ""), PAYLOAD.replace(GS, "<GS>") + "\r\n"):
        opened = _scan(client, typed)
        assert opened.status_code == 303 and opened.headers["location"] == f"/app/identities/{identity_id}"
    page = client.get(f"/app/identities/{identity_id}")
    assert f"DataMatrix INS read: identity no. {identity_id}, INS and traits agree." in page.text
    assert [r.getMessage() for r in caplog.records if "desk scan" in r.getMessage()] == [
        f"desk scan by agent-9: open (identity {identity_id})"] * 3


def test_the_scanner_field_says_who_it_is_not(client, settings) -> None:
    qual = create(client, settings)
    _sign_in(client, "admission")
    differs = _scan(client, PAYLOAD.replace("S4DUPONT", "S4DUPOND"))
    assert differs.status_code == 200 and "This is not the recorded identity" in differs.text
    assert f"identity no. {qual}, but the DataMatrix&#39;s traits differ (Birth name)" in differs.text
    assert "<td>DUPOND</td><td>DUPONT</td>" in differs.text and "mark-differs" in differs.text
    other = "180017505600103"  # a valid NIR nobody holds
    unknown = _scan(client, PAYLOAD.replace(MATRICULE, other))
    assert f"No identity holds this INS (matricule {other})" in unknown.text
    invalid = _scan(client, "DUPONT JEAN")
    assert invalid.status_code == 422 and "This content is not a readable DataMatrix INS" in invalid.text
    assert "header IS01 missing" in invalid.text


def test_the_scanner_field_does_not_open_an_identity_that_is_not_qualified(client, settings) -> None:
    body = {**DUPONT, "birth_name": "Durand"}
    vali = create(client, settings, "RECUP", body=body)
    _sign_in(client, "documents")
    found = _scan(client, PAYLOAD.replace("S4DUPONT", "S4DURAND"))
    assert found.status_code == 200
    assert f"The INS is that of identity no. {vali}, which is not qualified (status RECUP)" in found.text
    assert f'href="/app/identities/{vali}"' in found.text


def test_every_scan_outcome_has_its_words_in_both_languages() -> None:
    from app.domain.scanned import DeskScanOutcome
    from app.web.i18n import TEXT

    assert all(all(TEXT[f"scan_{outcome.value}"]) for outcome in DeskScanOutcome)
