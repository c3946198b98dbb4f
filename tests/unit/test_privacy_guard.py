"""The privacy guard that fails the test run on a trait or matricule in a log line finds them."""

from __future__ import annotations

from tests.privacy_guard import leaks

NAMES = {"DUPONT", "MARIE", "LEFEBURE"}
MATRICULES = {"275126322074974"}


def test_a_stored_name_or_matricule_in_a_log_line_is_a_leak() -> None:
    lines = {
        "identito.duplicates: duplicate check: 3 changes, 1 pairs proposed",
        "identito.api: identity 12 created for dupont marie",
        "identito.mllp: message 8 refused: INS 275126322074974 held elsewhere",
        "identito.relay: subscriber DPI: 4 messages delivered (PROV identities only)",
    }
    found = sorted(leaks(lines, NAMES, MATRICULES))
    assert [value for value, _ in found] == ["275126322074974", "DUPONT"]
    assert leaks({"identito.api: identity 12 merged into 7 (reason kept in the audit trail)"}, NAMES,
                 MATRICULES) == []


def test_field_vocabulary_and_parts_of_words_are_not_leaks() -> None:
    assert leaks({"identito: status QUAL for identity 4", "identito: DUPONTEL is not DUPONT's word"},
                 {"QUAL", "DUPONTELLI"}, set()) == []
