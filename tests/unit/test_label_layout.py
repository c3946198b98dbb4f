"""INS label sheets: the A4 formats and where each label goes (app.domain.labels, pure)."""

from __future__ import annotations

import pytest

from app.domain.errors import InvalidTrait
from app.domain.labels import (
    A4_HEIGHT_MM,
    A4_WIDTH_MM,
    DEFAULT_LABEL_SHEET,
    LABEL_SHEETS,
    MAX_LABELS,
    label_sheet,
    placements,
    sheets_needed,
)


def test_every_format_fits_an_a4_page_without_overlap() -> None:
    assert {code: s.per_sheet for code, s in LABEL_SHEETS.items()} == {
        "3x8-70x37": 24, "3x7-63.5x38.1": 21, "2x8-105x37": 16}
    assert DEFAULT_LABEL_SHEET in LABEL_SHEETS
    for sheet in LABEL_SHEETS.values():
        assert sheet.fits_a4(), sheet.code
        where = placements(sheet, 1, sheet.per_sheet)
        assert {p.page for p in where} == {0}
        assert max(p.x for p in where) + sheet.label_width <= A4_WIDTH_MM
        assert max(p.y for p in where) + sheet.label_height <= A4_HEIGHT_MM
        assert len({(p.x, p.y) for p in where}) == sheet.per_sheet  # no two labels at one place


def test_a_full_70x37_sheet_is_filled_row_by_row_from_the_top_left() -> None:
    where = placements(label_sheet("3x8-70x37"), 1, 24)
    assert [(p.position, p.x, p.y) for p in where[:4]] == [(1, 0, 0.5), (2, 70, 0.5), (3, 140, 0.5),
                                                           (4, 0, 37.5)]
    assert (where[-1].x, where[-1].y) == (140, 259.5)  # 0.5 + 7 x 37, bottom right


def test_63_5x38_1_sheet_has_margins_and_gutters() -> None:
    where = placements(label_sheet("3x7-63.5x38.1"), 1, 21)
    assert [(p.x, p.y) for p in where[:4]] == [(7.25, 15.15), (73.25, 15.15), (139.25, 15.15), (7.25, 53.25)]
    assert where[-1].y + 38.1 == pytest.approx(A4_HEIGHT_MM - 15.15)  # symmetric margins


def test_used_labels_are_skipped_and_the_rest_goes_on_next_sheets() -> None:
    sheet = label_sheet("3x8-70x37")
    where = placements(sheet, 23, 5)
    assert [(p.page, p.position) for p in where] == [(0, 23), (0, 24), (1, 1), (1, 2), (1, 3)]
    assert (where[2].x, where[2].y) == (0, 0.5)
    assert sheets_needed(sheet, 23, 5) == 2
    assert sheets_needed(sheet, 1, 24) == 1
    assert sheets_needed(sheet, 1, 25) == 2
    assert sheets_needed(sheet, 24, MAX_LABELS) == 6


@pytest.mark.parametrize(("code", "start", "count", "error"), [
    ("3x8-70x37", 0, 1, "label-start-invalid"),
    ("3x8-70x37", 25, 1, "label-start-invalid"),
    ("3x7-63.5x38.1", 22, 1, "label-start-invalid"),
    ("3x8-70x37", 1, 0, "label-count-invalid"),
    ("3x8-70x37", 1, MAX_LABELS + 1, "label-count-invalid"),
])
def test_positions_out_of_range_are_refused_with_the_range(code: str, start: int, count: int,
                                                             error: str) -> None:
    with pytest.raises(InvalidTrait) as refused:
        placements(label_sheet(code), start, count)
    assert refused.value.code == error
    if error == "label-start-invalid":
        assert str(label_sheet(code).per_sheet) in refused.value.message("fr")


def test_an_unknown_format_is_refused_with_the_valid_codes() -> None:
    with pytest.raises(InvalidTrait) as refused:
        label_sheet("A4-99x99")
    assert refused.value.code == "label-layout-unknown"
    message = refused.value.message("fr")
    assert message.startswith("Format de planche d'étiquettes inconnu A4-99x99")
    assert "3x8-70x37, 3x7-63.5x38.1, 2x8-105x37" in message


def test_a_label_without_ins_shows_the_traits_and_the_ipp_and_nothing_of_an_ins() -> None:
    from datetime import date

    from app.domain.labels import TraitsLabel
    from app.domain.traits import Sex, Traits
    from app.integrations.documents.labels import traits_label_lines

    traits = Traits(birth_name="MARTIN", first_names="ANNE MARIE", first_name="ANNE", sex=Sex.F,
                    birth_date=date(1907, 1, 2), used_name="MARTIN")
    label = TraitsLabel.of(traits, "000042", "CHU")
    assert label.used_name is None  # the same as the birth name: not repeated
    assert traits_label_lines(label) == [("MARTIN", True), ("ANNE", False),
                                         ("Né(e) le 02/01/1907 · Sexe F", False), ("IPP 000042", True)]
    renamed = TraitsLabel.of(traits.with_changes(used_name="DURAND"), "000042", "CHU")
    assert ("Nom utilisé : DURAND", False) in traits_label_lines(renamed)
    assert not hasattr(label, "ins") and not hasattr(label, "payload")  # nothing to print an INS from
