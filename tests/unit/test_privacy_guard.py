"""The privacy guard that fails the test run on a trait or matricule in a log line finds them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tests.privacy_guard import _Collector, leaks

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


def _collected(emit: Callable[[logging.Logger], None], name: str = "identito.test_privacy_guard"
               ) -> dict[str, tuple[str, bool]]:
    collector = _Collector()
    logger = logging.getLogger(name)
    logger.addHandler(collector)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(collector)
        logger.propagate = True
    return collector.lines


def test_a_surname_that_is_a_word_of_the_message_template_or_the_code_is_not_a_leak() -> None:
    """A test identity named PAGES must not fail the run on "cover pages use Helvetica" (stop 23)."""

    def emit(logger: logging.Logger) -> None:
        logger.warning("fonts not found in %s: cover pages use Helvetica", "/tmp/no-fonts")
        try:
            pages = 0
            raise ValueError("revision 2 differs") from ZeroDivisionError(pages)
        except ValueError:
            logger.exception("diff between revisions failed")

    lines = _collected(emit)
    assert any("cover pages" in line for line in lines)
    assert any("ZeroDivisionError(pages)" in line for line in lines)  # the traceback shows the source
    assert leaks(lines, {"PAGES"}, set()) == []


def test_a_name_interpolated_formatted_or_in_an_exception_message_is_a_leak() -> None:
    def emit(logger: logging.Logger) -> None:
        logger.info("identity %s created for %s", 12, "Pages Marie")
        logger.info(f"identity 13 created for {'DUPONT'}")  # noqa: G004 - the f-string leak under test
        logger.info("identity %(id)s renamed %(name)s", {"id": 14, "name": "LEFEBURE"})
        try:
            raise KeyError("275126322074974")
        except KeyError:
            logger.exception("lookup failed")

    found = sorted(value for value, _ in leaks(_collected(emit), NAMES | {"PAGES"}, MATRICULES))
    assert found == ["275126322074974", "DUPONT", "LEFEBURE", "PAGES"]


def test_in_other_libraries_lines_a_name_is_found_as_stored_in_capitals() -> None:
    """pyHanko's ".Root.Pages" is a PDF path; an SQL parameter 'DUPONT' is a stored name."""

    def emit(logger: logging.Logger) -> None:
        try:
            raise RuntimeError("Reference(idnum=8) is also used in AbsoluteContext(path='.Root.Pages')")
        except RuntimeError:
            logger.exception("Error in diff operation between revision 1 and 2")
        logger.warning("statement failed: [parameters: ('DUPONT', 'Marie')]")

    lines = _collected(emit, "pyhanko.sign.diff_analysis")
    assert [value for value, _ in leaks(lines, {"PAGES", "DUPONT", "MARIE"}, set())] == ["DUPONT"]
