"""INS label sheets: the A4 formats offered and where each label goes (pure arithmetic, in mm).

A sheet is a grid of ``columns`` x ``rows`` labels on an A4 page, filled row by row from the top
left. ``start`` is the first free position of the first sheet (1-based: labels already peeled off
are skipped); further labels continue on new sheets from position 1.

Two kinds of label. An INS label carries the cover page's INS content (app.domain.cover_page: QUAL
only, RNIV EXI SI 08) plus the IPP and the DataMatrix INS. A label without INS (``TraitsLabel``)
carries the traits and the IPP only, for any active identity, whatever its status: the desk labels
tubes and files of every patient, and the INS is never on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import InvalidTrait
from app.domain.messages import register
from app.domain.traits import Traits

A4_WIDTH_MM = 210.0
A4_HEIGHT_MM = 297.0
MAX_LABELS = 120  # one request prints at most this many labels (5 sheets of 24)

register(
    "label-layout-unknown",
    "Unknown label sheet format {value}: use one of {valid}.",
    "Format de planche d'étiquettes inconnu {value} : utilisez l'un des formats {valid}.",
)
register(
    "label-start-invalid",
    "The start position must be between 1 and {max} (labels on one sheet).",
    "La position de départ doit être comprise entre 1 et {max} (étiquettes d'une planche).",
)
register(
    "label-count-invalid",
    "The number of labels must be between 1 and {max}.",
    "Le nombre d'étiquettes doit être compris entre 1 et {max}.",
)


@dataclass(frozen=True, slots=True)
class LabelSheet:
    """An A4 label sheet format: grid, label size, page margins and pitch (distance between the
    starts of two neighbouring labels), all in millimetres."""

    code: str
    columns: int
    rows: int
    label_width: float
    label_height: float
    left: float
    top: float
    pitch_x: float
    pitch_y: float
    padding: float  # blank kept inside each label (printers do not print to the page edge)

    @property
    def per_sheet(self) -> int:
        """Labels on one sheet."""
        return self.columns * self.rows

    def fits_a4(self) -> bool:
        """Every label lies inside the page and no two labels overlap."""
        right = self.left + (self.columns - 1) * self.pitch_x + self.label_width
        bottom = self.top + (self.rows - 1) * self.pitch_y + self.label_height
        return (
            self.left >= 0
            and self.top >= 0
            and right <= A4_WIDTH_MM + 1e-6
            and bottom <= A4_HEIGHT_MM + 1e-6
            and self.pitch_x >= self.label_width
            and self.pitch_y >= self.label_height
        )


# Common A4 sheets (sold under many references; the codes say grid and label size).
LABEL_SHEETS: dict[str, LabelSheet] = {
    sheet.code: sheet
    for sheet in (
        # 24 labels 70 x 37 mm, edge to edge (e.g. Avery 3474, Herma 4453)
        LabelSheet("3x8-70x37", 3, 8, 70.0, 37.0, 0.0, 0.5, 70.0, 37.0, 4.0),
        # 21 labels 63.5 x 38.1 mm, rounded corners, 2.5 mm gutters (e.g. Avery L7160)
        LabelSheet("3x7-63.5x38.1", 3, 7, 63.5, 38.1, 7.25, 15.15, 66.0, 38.1, 2.5),
        # 16 labels 105 x 37 mm, edge to edge (e.g. Avery 3484)
        LabelSheet("2x8-105x37", 2, 8, 105.0, 37.0, 0.0, 0.5, 105.0, 37.0, 4.0),
    )
}
DEFAULT_LABEL_SHEET = "3x8-70x37"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one label is printed: page (0-based), position on its sheet (1-based), and the label's
    top-left corner measured from the page's top-left corner, in mm."""

    page: int
    position: int
    x: float
    y: float


def label_sheet(code: str) -> LabelSheet:
    """The sheet format of this code; 422 with the valid codes otherwise."""
    sheet = LABEL_SHEETS.get(code.strip())
    if sheet is None:
        raise InvalidTrait("label-layout-unknown", field="layout", value=code[:40],
                           valid=", ".join(LABEL_SHEETS))
    return sheet


def placements(sheet: LabelSheet, start: int, count: int) -> list[Placement]:
    """Where ``count`` labels go when the first sheet's free labels begin at ``start``."""
    if not 1 <= start <= sheet.per_sheet:
        raise InvalidTrait("label-start-invalid", field="start", max=sheet.per_sheet)
    if not 1 <= count <= MAX_LABELS:
        raise InvalidTrait("label-count-invalid", field="count", max=MAX_LABELS)
    found = []
    for index in range(start - 1, start - 1 + count):
        page, slot = divmod(index, sheet.per_sheet)
        row, column = divmod(slot, sheet.columns)
        found.append(Placement(page, slot + 1, round(sheet.left + column * sheet.pitch_x, 3),
                               round(sheet.top + row * sheet.pitch_y, 3)))
    return found


def sheets_needed(sheet: LabelSheet, start: int, count: int) -> int:
    """How many sheets a print uses (the first one partly, from ``start``)."""
    return (start - 1 + count + sheet.per_sheet - 1) // sheet.per_sheet


@dataclass(frozen=True, slots=True)
class TraitsLabel:
    """What a label without INS shows: birth name, first birth first name, used name (when it
    differs), birth date, sex and IPP. It holds no INS, so nothing built from it can print one
    (RNIV EXI SI 08: the matricule and its DataMatrix only for a QUAL identity)."""

    birth_name: str
    first_name: str
    used_name: str | None
    birth_date_text: str  # DD/MM/YYYY
    sex: str
    ipp: str
    establishment_name: str

    @classmethod
    def of(cls, traits: Traits, ipp: str, establishment_name: str) -> TraitsLabel:
        """The label of these traits (the used name only when it differs from the birth name)."""
        used = traits.shown_used_name
        born = traits.birth_date.strftime("%d/%m/") + f"{traits.birth_date.year:04d}"
        return cls(traits.birth_name, traits.first_name, used, born, traits.sex.value, ipp,
                   establishment_name)
