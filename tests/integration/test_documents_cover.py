"""Cover page PDF: text layer, embedded fonts, DataMatrix readable after printing (poppler + zxing)."""

from __future__ import annotations

import logging
from datetime import date

from app.domain.ins import OID_NIA, OID_NIR_DEMO, OID_NIR_TEST
from app.integrations.documents.cover import Layout, render_cover_page, render_ins_block
from app.integrations.documents.fonts import fonts
from tests.documents_support import data, pdf_page_png, run, traits, zxing_bytes

LONG = ("MARIE-CHRISTINE " * 7)[:99].rstrip(" -") + "E"


def write(tmp_path, name, pdf):
    path = tmp_path / name
    path.write_bytes(pdf)
    return path


def test_text_layer_holds_the_ins_mentions(tmp_path):
    cover = data(
        the_traits=traits(used_name="MARTIN"),
        title="Compte rendu opératoire",
        document_date=date(2026, 11, 20),
        author="Dr Durand, chirurgie",
        establishment="Site Nord",
    )
    text = run("pdftotext", "-layout", write(tmp_path, "c.pdf", render_cover_page(cover)), "-")
    for mention in [
        "Matricule INS",
        "2 77 01 01 154 003 29",
        "NIR",
        "Nom de naissance",
        "GARCIA-HAMMADI",
        "Prénom(s) de naissance",
        "SARAH-LOU ANNA",
        "Sexe",
        "F (féminin)",
        "Date de naissance",
        "21/01/1977",
        "Lieu de naissance",
        "01154",
        "Nom utilisé",
        "MARTIN",
        "INS à scanner",
        "Compte rendu opératoire",
        "20/11/2026",
        "Dr Durand, chirurgie",
        "Site Nord",
        "Centre hospitalier de test",
    ]:
        assert mention in text, mention
    assert "Prénom utilisé" not in text  # not given: not printed


def test_used_names_equal_to_birth_names_are_not_repeated(tmp_path):
    cover = data(the_traits=traits(used_name="GARCIA-HAMMADI", used_first_name="SARAH-LOU"))
    text = run("pdftotext", write(tmp_path, "c.pdf", render_cover_page(cover)), "-")
    assert "Nom utilisé" not in text and "Prénom utilisé" not in text


def test_test_and_demo_patients_are_flagged_and_nia_named(tmp_path):
    test = run("pdftotext", write(tmp_path, "t.pdf", render_cover_page(data(oid=OID_NIR_TEST))), "-")
    demo = run("pdftotext", write(tmp_path, "d.pdf", render_cover_page(data(oid=OID_NIR_DEMO))), "-")
    nia = run("pdftotext", write(tmp_path, "n.pdf", render_cover_page(data(oid=OID_NIA))), "-")
    assert "NIR (TEST)" in test and "PATIENT FICTIF" in test
    assert "NIR (DÉMO)" in demo and "PATIENT FICTIF" in demo
    assert "NIA" in nia and "PATIENT FICTIF" not in nia


def test_fonts_are_embedded_and_no_patient_trait_in_metadata(tmp_path):
    path = write(tmp_path, "c.pdf", render_cover_page(data()))
    fonts_table = run("pdffonts", path).splitlines()[2:]
    assert fonts_table and all(" yes " in line for line in fonts_table)
    info = run("pdfinfo", path)
    assert "Page size:       595.276 x 841.89 pts (A4)" in info
    assert "GARCIA" not in info and "277010115400329" not in info


def test_printed_datamatrix_decodes_to_the_payload(tmp_path):
    for cover in (data(), data(the_traits=traits(birth_name=LONG, first_names=LONG.replace("-", " ")))):
        image = pdf_page_png(write(tmp_path, "c.pdf", render_cover_page(cover)), 1, tmp_path / "c", dpi=150)
        assert zxing_bytes(image) == [cover.payload.encode("ascii")]


def test_long_names_wrap_inside_the_page(tmp_path):
    cover = data(the_traits=traits(birth_name=LONG))
    text = run("pdftotext", write(tmp_path, "c.pdf", render_cover_page(cover)), "-")
    assert LONG in " ".join(text.split())  # wrapped on spaces, nothing lost
    bbox = run("pdftotext", "-bbox", tmp_path / "c.pdf", "-")
    right_edges = [float(v) for v in __import__("re").findall(r'xMax="([\d.]+)"', bbox)]
    assert max(right_edges) < 595.276 - 40


def test_ins_block_is_small_and_readable(tmp_path):
    cover = data()
    path = write(tmp_path, "b.pdf", render_ins_block(cover))
    assert "INS : 2 77 01 01 154 003 29 (NIR)" in run("pdftotext", path, "-")
    assert zxing_bytes(pdf_page_png(path, 1, tmp_path / "b", dpi=300)) == [cover.payload.encode("ascii")]


def test_missing_fonts_fall_back_loudly(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        pair = fonts(tmp_path / "no-fonts-here")
    assert not pair.embedded and "fonts-dejavu-core" in caplog.text
    text = run(
        "pdftotext", write(tmp_path, "c.pdf", render_cover_page(data(), Layout(font_dir=tmp_path / "x"))), "-"
    )
    assert "Matricule INS" in text
