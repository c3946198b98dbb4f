"""POST /documents/label-sheet: an A4 sheet of INS labels, QUAL only, or of labels without INS for
every active identity (both engines).

The labels are read back from the PDF as a person's scanner would: the page rendered by pdfium,
every DataMatrix decoded by zxing-cpp (independent of libdmtx, which drew them)."""

from __future__ import annotations

import logging

import pypdfium2
import pytest

from tests.api.test_documents_api import DUPONT, MATRICULE, NOT_QUAL, PAYLOAD, create, docs
from tests.api.test_merges_api import _create, _merge
from tests.conftest import auth
from tests.documents_support import zxing_bytes


def _pages(pdf: bytes) -> list[tuple[list[bytes], str]]:
    """For each page: the DataMatrix contents found, and the page's text."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        found = []
        for page in document:
            image = page.render(scale=200 / 72).to_pil()
            found.append((zxing_bytes(image), page.get_textpage().get_text_range()))
        return found
    finally:
        document.close()


def test_label_sheet_of_a_qual_identity_from_a_start_position_over_two_sheets(
        client, settings, caplog) -> None:
    identity_id = create(client, settings)
    caplog.set_level(logging.INFO)
    response = client.post("/documents/label-sheet", headers=docs(settings), json={
        "identity_id": identity_id, "layout": "3x7-63.5x38.1", "start": 20, "count": 3})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    pages = _pages(response.content)
    assert [symbols for symbols, _ in pages] == [[PAYLOAD.encode()] * 2, [PAYLOAD.encode()]]
    text = pages[0][1]
    assert "DUPONT" in text and "JEAN PIERRE" in text and "INS 2 75 12 63 220 749 74 (NIR)" in text
    assert "17/05/1980" in text and "Sexe M" in text and "63113" in text and "IPP " in text
    printed = [r.getMessage() for r in caplog.records if "INS printed" in r.getMessage()]
    assert printed == [f"INS printed for identity {identity_id} by agent-1 (label sheet 3x7-63.5x38.1 x3)"]


def test_defaults_a_whole_sheet_of_the_configured_format_found_by_ipp_or_ins(client, settings) -> None:
    identity_id = create(client, settings)
    ipp = client.get(f"/identities/{identity_id}", headers=auth(settings, "admission")).json()["ipp"]
    by_ipp = client.post("/documents/label-sheet", json={"ipp": ipp},
                         headers=docs(settings, "identitovigilance"))
    assert by_ipp.status_code == 200, by_ipp.text
    assert [len(symbols) for symbols, _ in _pages(by_ipp.content)] == [24]  # 3 x 8, 70 x 37 mm
    by_ins = client.post("/documents/label-sheet", headers=docs(settings),
                         json={"ins": MATRICULE, "layout": "2x8-105x37", "start": 16})
    assert [len(symbols) for symbols, _ in _pages(by_ins.content)] == [1]
    formats = client.get("/documents/label-sheets", headers=docs(settings)).json()
    assert [(f["code"], f["labels"], f["default"]) for f in formats] == [
        ("3x8-70x37", 24, True), ("3x7-63.5x38.1", 21, False), ("2x8-105x37", 16, False)]


@pytest.mark.parametrize(("status", "attributes", "code", "missing"), NOT_QUAL)
def test_non_qual_identity_gets_the_cover_page_409(client, settings, status, attributes, code, missing,
                                                    caplog) -> None:
    identity_id = create(client, settings, status, attributes)
    caplog.set_level(logging.INFO)
    response = client.post("/documents/label-sheet", json={"identity_id": identity_id},
                           headers=docs(settings))
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["type"] == f"urn:identito:problem:{code}" and body["rule"] == "RNIV EXI SI 08"
    if missing is not None:
        assert body["identity_status"] == status and body["missing"] == missing
    assert not [r for r in caplog.records if "INS printed" in r.getMessage()]


@pytest.mark.parametrize(("body", "code", "detail"), [
    ({"layout": "99x99"}, "label-layout-unknown", "Unknown label sheet format 99x99: use one of 3x8-70x37"),
    ({"layout": "3x7-63.5x38.1", "start": 22}, "label-start-invalid", "between 1 and 21"),
    ({"start": 0}, "label-start-invalid", "between 1 and 24"),
    ({"count": 0}, "label-count-invalid", "between 1 and 120"),
    ({"count": 121}, "label-count-invalid", "between 1 and 120"),
])
def test_a_bad_layout_or_position_is_422_before_anything_is_printed(client, settings, body, code,
                                                                     detail) -> None:
    identity_id = create(client, settings)
    response = client.post("/documents/label-sheet", json={"identity_id": identity_id, **body},
                           headers=docs(settings))
    assert response.status_code == 422, response.text
    assert response.json()["type"] == f"urn:identito:problem:{code}" and detail in response.json()["detail"]


def test_bad_bodies_and_roles(client, settings) -> None:
    identity_id = create(client, settings)
    url = "/documents/label-sheet"
    assert client.post(url, json={"identity_id": identity_id, "layout": "x" * 41},
                       headers=docs(settings)).status_code == 422
    assert client.post(url, json={"identity_id": identity_id, "start": "first"},
                       headers=docs(settings)).status_code == 422
    assert client.post(url, json={}, headers=docs(settings)).status_code == 422  # which identity?
    assert client.post(url, json={"identity_id": 99999}, headers=docs(settings)).status_code == 404
    desk = auth(settings, "admission")  # the desk prints the patient's labels at the counter
    assert client.post(url, json={"identity_id": identity_id}, headers=desk).status_code == 200
    cover = client.get(f"/identities/{identity_id}/cover-page.pdf", headers=desk)
    assert cover.status_code == 403
    other = auth(settings, "integration")
    assert client.post(url, json={"identity_id": identity_id}, headers=other).status_code == 403
    assert client.post(url, json={"identity_id": identity_id}).status_code == 401


@pytest.mark.parametrize(("status", "attributes", "code", "missing"), NOT_QUAL)
def test_labels_without_ins_for_every_status_never_show_the_ins(client, settings, status, attributes, code,
                                                                  missing, caplog) -> None:
    """Every active identity gets labels without INS (the desk labels tubes and files of every
    patient): traits and IPP, and neither the matricule nor any DataMatrix, even when the INS is held
    (RECUP) or was held (DOUT, FICT: invalidated)."""
    identity_id = create(client, settings, status, attributes)
    ipp = client.get(f"/identities/{identity_id}", headers=auth(settings, "admission")).json()["ipp"]
    caplog.set_level(logging.INFO)
    response = client.post("/documents/label-sheet", headers=auth(settings, "admission"), json={
        "identity_id": identity_id, "with_ins": False, "layout": "2x8-105x37", "count": 2})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'inline; filename="labels.pdf"'
    [(symbols, text)] = _pages(response.content)
    assert symbols == []
    assert text.count("DUPONT") == 2 and text.count(f"IPP {ipp}") == 2 and "JEAN" in text
    assert "17/05/1980" in text and "Sexe M" in text
    assert "INS" not in text and MATRICULE not in text.replace(" ", "") and "PIERRE" not in text  # 1st name
    assert not [r for r in caplog.records if "INS printed" in r.getMessage()]
    assert [r.getMessage() for r in caplog.records if "(no INS)" in r.getMessage()] == [
        f"labels printed (no INS) for identity {identity_id} by agent-1 (label sheet 2x8-105x37 x2)"]


def test_labels_without_ins_of_a_qual_identity_and_of_a_merged_one(client, settings) -> None:
    identity_id = create(client, settings)
    plain = client.post("/documents/label-sheet", headers=docs(settings),
                        json={"identity_id": identity_id, "with_ins": False, "count": 1})
    [(symbols, text)] = _pages(plain.content)
    assert plain.status_code == 200 and symbols == [] and "INS" not in text and "DUPONT" in text

    survivor = _create(client, settings, {**DUPONT, "first_names": "Luc"})
    absorbed = _create(client, settings, {**DUPONT, "first_names": "Luc Marie", "confirm_new": True})
    merged = _merge(client, settings, survivor, absorbed, if_match=f"\"{survivor['version']}\"")
    assert merged.status_code == 200, merged.text
    refused = client.post("/documents/label-sheet", headers=auth(settings, "admission"),
                          json={"identity_id": absorbed["id"], "with_ins": False})
    assert refused.status_code == 409 and refused.json()["type"].endswith("identity-inactive")
    assert "surviving identity" in refused.json()["detail"]
