"""Blocking keys: the pairs a full scan compares."""

from datetime import date

from app.domain.matching import MatchRecord, blocking_keys


def keys(**changes: object) -> frozenset[str]:
    values: dict[str, object] = {
        "birth_name": "DUPONT", "first_names": "JEAN PIERRE", "birth_date": date(1980, 3, 4), "sex": "M",
    }
    values.update(changes)
    return blocking_keys(MatchRecord.of(**values))  # type: ignore[arg-type]


def test_kinds_of_keys() -> None:
    found = keys(active_ins="275126322074974", ins_history=["297022A02077878"])
    assert {k.split(":")[0] for k in found} == {"nd", "ny", "nf", "df", "ins"}
    assert {"ins:275126322074974", "ins:297022A02077878"} <= found
    assert "ny:TUT1:1980" in found and "df:1980-03-04:GE1" in found


def test_french_errors_share_a_key() -> None:
    assert keys(birth_name="DE LA FONTAINE") & keys(birth_name="LAFONTAINE", first_names="PAUL")
    assert keys(birth_name="MARTIN-DUPONT") & keys(birth_name="DUPONT", first_names="PAUL")
    assert keys(birth_name="DURAND", used_name="MARTIN") & keys(birth_name="MARTIN", first_names="LUC")
    assert keys(birth_date=date(1980, 3, 4)) & keys(birth_date=date(1980, 4, 3), birth_name="DUPOMT") == set()
    assert keys(birth_date=date(1980, 3, 4)) & keys(birth_date=date(1908, 3, 4))


def test_twins_are_compared() -> None:
    """Twins must meet in the scan so that the score, not the blocking, tells them apart."""
    assert keys(first_names="LEA") & keys(first_names="LEO")
    assert keys(first_names="PAUL") & keys(first_names="MARC")


def test_unrelated_identities_share_no_key() -> None:
    assert not keys() & keys(birth_name="BERNARD", first_names="LUC", birth_date=date(1975, 6, 7))
