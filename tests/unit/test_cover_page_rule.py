"""Only a QUAL identity gets an INS cover page or DataMatrix (RNIV EXI SI 08, Guide EXI DIF 02)."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.cover_page import (
    Comparison,
    DocumentInfo,
    check_ins_printable,
    compare_printed,
    cover_page_data,
)
from app.domain.datamatrix import parse_payload
from app.domain.errors import RuleViolation
from app.domain.ins import OID_NIR, OID_NIR_DEMO, OID_NIR_TEST, Ins
from app.domain.status import Attribute, IdentityState, Status
from app.domain.traits import build_traits

INS = Ins.of("277010115400329", OID_NIR)
TRAITS = build_traits(
    birth_name="Garcia-Hammadi",
    first_names="Sarah-Lou Anna",
    birth_date="1977-01-21",
    sex="F",
    birth_place_code="01154",
    used_name="Martin",
    today=date(2026, 1, 1),
)


@pytest.mark.parametrize(
    ("status", "missing"),
    [
        (Status.PROV, ["insi", "document"]),
        (Status.RECUP, ["document"]),
        (Status.VALI, ["insi"]),
    ],
)
def test_non_qual_identity_is_refused_with_what_is_missing(status, missing):
    with pytest.raises(RuleViolation) as caught:
        check_ins_printable(IdentityState.of(status), INS)
    error = caught.value
    assert error.code == "ins-not-qualified" and error.rule == "RNIV EXI SI 08"
    assert error.params["status"] == status.value and error.params["missing_list"] == missing
    assert status.value in error.message("fr") and "qualifiée" in error.message("fr")


def test_qual_without_active_ins_is_refused():
    with pytest.raises(RuleViolation) as caught:
        check_ins_printable(IdentityState.of(Status.QUAL), None)
    assert caught.value.params["missing_list"] == ["ins"]


@pytest.mark.parametrize("attribute", [Attribute.DOUT, Attribute.FICT])
def test_doubtful_or_fictitious_identity_never(attribute):
    with pytest.raises(RuleViolation) as caught:
        check_ins_printable(IdentityState.of(Status.PROV, [attribute]), INS)
    assert caught.value.code == "ins-blocked-attribute"
    assert attribute.value in caught.value.message("en")


def test_qual_identity_gets_cover_page_data_with_payload():
    data = cover_page_data(
        IdentityState.of(Status.QUAL, [Attribute.HOMA]),
        INS,
        TRAITS,
        establishment_name="CH Test",
        document=DocumentInfo(title="Compte rendu"),
    )
    assert parse_payload(data.payload).ins == INS
    assert data.show_used_name and not data.show_used_first_name and data.usage_label is None


def test_usage_label_for_test_and_demo_oids():
    state = IdentityState.of(Status.QUAL)
    test = cover_page_data(state, Ins.of(INS.matricule, OID_NIR_TEST), TRAITS, establishment_name="X")
    demo = cover_page_data(state, Ins.of(INS.matricule, OID_NIR_DEMO), TRAITS, establishment_name="X")
    assert (test.usage_label, demo.usage_label) == ("TEST", "DÉMO")


def test_comparison_same_differs_unknown():
    printed = parse_payload(
        cover_page_data(IdentityState.of(Status.QUAL), INS, TRAITS, establishment_name="X").payload
    )
    assert compare_printed(printed, TRAITS) == (Comparison.SAME, [])
    assert compare_printed(printed, TRAITS.with_changes(sex="M")) == (Comparison.DIFFERS, ["sex"])
    assert compare_printed(printed, None) == (Comparison.UNKNOWN_INS, [])
