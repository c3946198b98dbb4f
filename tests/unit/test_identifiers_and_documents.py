"""Pure rules: identifiers bound to their assigning authority, same-person check, document checks."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.documents import (
    DocumentCheck,
    DocumentType,
    any_counts,
    check_document,
    check_not_recorded,
)
from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.identifiers import OWN, Authority, check_same_person, resolve_authority
from app.domain.traits import build_traits

TODAY = date(2026, 11, 30)
IDENTITO = Authority("IDENTITO", "1.2.250.1.71.4.2.2.999", "ISO")
GAM = Authority("CHU-X", "1.2.250.1.999.1", "ISO")


def _resolve(received: Authority, configured: Authority | None = None) -> Authority:
    return resolve_authority(
        received, own=IDENTITO, sender="GAM^CHU-X", configured=configured, location="PID-3"
    )


def test_identito_s_own_authority_is_recognised_by_oid_or_namespace() -> None:
    assert _resolve(Authority("", "1.2.250.1.71.4.2.2.999", "ISO")) is OWN
    assert _resolve(Authority("IDENTITO")) is OWN
    other_oid = Authority("IDENTITO", "1.2.3", "ISO")
    assert _resolve(other_oid) == other_oid


def test_a_configured_sender_may_omit_cx4_but_not_name_a_stranger() -> None:
    assert _resolve(Authority(), GAM) == GAM
    assert _resolve(Authority("CHU-X"), GAM) == GAM  # namespace only: the configured one
    assert _resolve(Authority("other", "1.2.250.1.999.1", "ISO"), GAM) == GAM  # same OID
    with pytest.raises(RuleViolation) as info:
        _resolve(Authority("CHU-Y", "1.2.250.1.999.2", "ISO"), GAM)
    assert info.value.code == "identifier-foreign-authority" and info.value.field == "PID-3"


def test_an_unconfigured_sender_must_name_the_authority() -> None:
    with pytest.raises(RuleViolation) as info:
        _resolve(Authority())
    assert info.value.code == "identifier-no-authority"
    assert _resolve(Authority("CHU-X", "000897406", "N")).text() == "CHU-X&000897406&N"


@given(st.text(alphabet="ABC-&.0123456789", max_size=20))
def test_the_authority_text_round_trips(text: str) -> None:
    authority = Authority.parse(text)
    assert Authority.parse(authority.text()) == authority


def _traits(**changes: str):
    raw = {"birth_name": "MARTIN", "first_names": "LUC PAUL", "birth_date": "1961-07-02", "sex": "M",
           "birth_place_code": "75056"}
    raw.update(changes)
    return build_traits(today=TODAY, **raw)  # type: ignore[arg-type]


def test_same_person_means_every_strict_trait_equal() -> None:
    held = _traits()
    assert check_same_person(held, _traits(used_name="BLANC")) == []
    assert check_same_person(held, _traits(birth_place_code=None)) == []  # unknown on one side
    assert check_same_person(held, _traits(sex="F", birth_date="1961-07-03")) == ["birth_date", "sex"]
    assert check_same_person(held, _traits(first_names="PAUL")) == ["first_name", "first_names"]


def _check(id_: int, type_: str = "CN", expires: date | None = date(2030, 1, 1),
           **kw: object) -> DocumentCheck:
    high_trust = bool(kw.pop("high_trust", True))
    return DocumentCheck(id_, 1, type_, high_trust, "agent", datetime(2026, 1, 1), expires, **kw)


def test_documents_that_print_an_expiry_date_need_it_or_an_explicit_none() -> None:
    accepted = frozenset({DocumentType.CN, DocumentType.PA})
    with pytest.raises(InvalidTrait) as info:
        check_document(DocumentType.CN, None, TODAY, accepted)
    assert info.value.code == "document-expiry-required"
    assert check_document(DocumentType.CN, None, TODAY, accepted, no_expiry_printed=True) is True
    assert check_document(DocumentType.AN, None, TODAY, accepted) is False  # prints none; not accepted here
    with pytest.raises(InvalidTrait):
        check_document(DocumentType.CN, date(2030, 1, 1), TODAY, accepted, no_expiry_printed=True)
    with pytest.raises(RuleViolation):
        check_document(DocumentType.PA, date(2020, 1, 1), TODAY, accepted)


def test_the_same_active_document_is_not_recorded_twice() -> None:
    checks = [_check(1), _check(2, "PA", withdrawn_at=datetime(2026, 2, 1))]
    with pytest.raises(RuleViolation) as info:
        check_not_recorded(checks, DocumentType.CN, date(2030, 1, 1))
    assert info.value.params["ident"] == 1
    check_not_recorded(checks, DocumentType.CN, date(2031, 1, 1))  # a renewed card
    check_not_recorded(checks, DocumentType.PA, date(2030, 1, 1))  # the withdrawn one does not count


def test_which_checks_still_count() -> None:
    checks = [_check(1, expires=date(2020, 1, 1)), _check(2, high_trust=False), _check(3)]
    assert any_counts(checks, TODAY)
    assert not any_counts(checks, TODAY, except_id=3)
