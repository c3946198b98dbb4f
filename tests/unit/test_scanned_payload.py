"""A DataMatrix INS typed by a keyboard-mode scanner: separators sent as Ctrl+], as a substitute text
or dropped, an AIM prefix, the final Enter; and what the desk does with it (app.domain.scanned)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings as hsettings

from app.domain.cover_page import Comparison
from app.domain.datamatrix import GS, InsPayload, build_payload, parse_payload
from app.domain.scanned import DeskScanOutcome, desk_scan_outcome, typed_payload
from app.domain.status import Status
from app.domain.traits import Sex
from tests.strategies_ins import payloads

SPEC = ("IS010000000000000000000000S1277010115400329S21.2.250.1.213.1.4.8" + GS + "S3SARAH-LOU ANNA" + GS
        + "S4GARCIA-HAMMADI" + GS + "S5FS621-01-1977S701154")


@pytest.mark.parametrize("typed", [
    SPEC,
    SPEC + "\r\n",
    "]d2" + SPEC,
    SPEC.replace(GS, "<GS>"),
    SPEC.replace(GS, "{GS}"),
    SPEC.replace(GS, "^]"),
    SPEC.replace(GS, "\u241d"),
    SPEC.replace(GS, ""),  # the scanner dropped the separators
    "]d2" + SPEC.replace(GS, "") + "\n",
])
def test_what_scanners_type_is_the_spec_example(typed: str) -> None:
    assert typed_payload(typed) == SPEC
    printed = parse_payload(typed_payload(typed))
    assert (printed.matricule, printed.birth_name, printed.first_names) == (
        "277010115400329", "GARCIA-HAMMADI", "SARAH-LOU ANNA")


def test_without_separators_fields_at_their_maximum_and_any_order_still_split() -> None:
    long_name = "A" * 48 + "-" + "S" * 51  # 100 characters, ends with S before the next field
    payload = InsPayload("277010115400329", "1.2.250.1.213.1.4.10", "JAMES", long_name, Sex.M,
                         date(1977, 1, 21))
    built = build_payload(payload)
    assert parse_payload(typed_payload(built.replace(GS, ""))) == payload
    header, body = built[:26], built[26:].replace(GS, "")
    reordered = header + body[body.index("S5"):] + body[:body.index("S5")]  # S5 S6 first, then S1..S4
    assert parse_payload(typed_payload(reordered)) == payload


@hsettings(max_examples=200, deadline=None)
@given(payloads())
def test_any_payload_survives_a_scanner_that_drops_the_separators(payload: InsPayload) -> None:
    built = build_payload(payload)
    assert parse_payload(typed_payload(built.replace(GS, ""))) == payload
    assert parse_payload(typed_payload(built.replace(GS, "<GS>") + "\r")) == payload


def test_something_else_is_left_to_the_parser() -> None:
    assert typed_payload("DUPONT") == "DUPONT"
    assert typed_payload(SPEC[:26] + "X9abc") == SPEC[:26] + "X9abc"


@pytest.mark.parametrize(("comparison", "active_ins", "status", "open_", "expected"), [
    (Comparison.SAME, True, Status.QUAL, True, DeskScanOutcome.OPEN),
    (Comparison.UNKNOWN_INS, False, None, False, DeskScanOutcome.UNKNOWN_INS),
    (Comparison.SAME, True, Status.QUAL, False, DeskScanOutcome.CLOSED),
    (Comparison.DIFFERS, True, Status.QUAL, True, DeskScanOutcome.DIFFERS),
    (Comparison.SAME, False, Status.QUAL, True, DeskScanOutcome.HISTORIC_INS),
    (Comparison.SAME, True, Status.RECUP, True, DeskScanOutcome.NOT_QUALIFIED),
    (Comparison.SAME, True, Status.VALI, True, DeskScanOutcome.NOT_QUALIFIED),
])
def test_only_the_active_ins_of_an_open_qual_identity_with_the_same_traits_opens_it(
        comparison: Comparison, active_ins: bool, status: Status | None, open_: bool,
        expected: DeskScanOutcome) -> None:
    assert desk_scan_outcome(comparison, active_ins, status, open_) is expected

