"""Unit: INSi domain rules (sendable traits, verification verdicts, CR 02 strategy) and simulator data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from lxml import etree

from app.domain.errors import InvalidTrait
from app.domain.ins import OID_NIA, OID_NIR, Ins
from app.domain.insi import (
    CrCode,
    InsEntry,
    InsiAnswer,
    InsiConfigurationError,
    InsiTimeout,
    Matricule,
    ReturnedTraits,
    TraitsQuery,
    Verdict,
)
from app.domain.insi_rules import check_traits_query, compare_verification, resolve_several
from app.domain.traits import build_traits
from app.integrations.insi.installation import installation_instance, journal_hash_key
from app.integrations.insi.saml import AssertionFacts, build_assertion, check_assertion
from app.simulator import soap
from app.simulator.personas import PersonaBook

TODAY = date(2026, 11, 24)
ADRUN_TRAITS = build_traits(
    birth_name="ADRUN",
    first_names="ZOE",
    birth_date="1975-12-31",
    sex="F",
    birth_place_code="63220",
    today=TODAY,
)


def _answer(
    code: CrCode, matricule: str = "275126322074974", oid: str = OID_NIR, **traits: str
) -> InsiAnswer:
    if code is not CrCode.FOUND:
        return InsiAnswer(code, "", "uuid:x")
    returned = {
        "birth_name": "ADRUN",
        "first_names": "ZOE",
        "sex": "F",
        "birth_date": "1975-12-31",
        "birth_place_code": "63220",
        **traits,
    }
    return InsiAnswer(
        code,
        "OK",
        "uuid:x",
        InsEntry(Matricule(matricule[:13], matricule[13:]), oid),
        traits=ReturnedTraits(**returned),
    )


@pytest.mark.parametrize(
    "answer,verdict,differ",
    [
        (_answer(CrCode.FOUND), Verdict.CONFIRMED, ()),
        (_answer(CrCode.FOUND, "297022A02077878"), Verdict.DIFFERENT_INS, ()),
        (_answer(CrCode.FOUND, oid=OID_NIA), Verdict.DIFFERENT_INS, ()),
        (
            _answer(CrCode.FOUND, birth_place_code="2A020", sex="M"),
            Verdict.TRAITS_DIFFER,
            ("sex", "birth_place_code"),
        ),
        (_answer(CrCode.NOT_FOUND), Verdict.NOT_FOUND, ()),
        (_answer(CrCode.SEVERAL), Verdict.AMBIGUOUS, ()),
    ],
)
def test_verification_verdicts(answer, verdict, differ):
    result = compare_verification(ADRUN_TRAITS, Ins.of("275126322074974", OID_NIR), answer)
    assert result.verdict is verdict and result.differing_traits == differ


def test_cr02_strategy_stops_at_the_first_answer_that_is_not_02():
    traits = build_traits(
        birth_name="MARTIN",
        first_names="JEAN PAUL",
        birth_date="1980-05-05",
        sex="M",
        birth_place_code="75056",
        today=TODAY,
    )
    sent: list[TraitsQuery] = []

    def search(query: TraitsQuery) -> InsiAnswer:
        sent.append(query)
        return _answer(CrCode.SEVERAL if len(sent) < 3 else CrCode.NOT_FOUND)

    resolved = resolve_several(search, traits)
    assert [a.step for a in resolved.attempts] == ["first-name", "all-first-names", "birth-place"]
    assert [q.first_names for q in sent] == [("JEAN",), ("JEAN", "PAUL"), ("JEAN", "PAUL")]
    assert [q.birth_place_code for q in sent] == [None, None, "75056"]
    assert resolved.answer.code is CrCode.NOT_FOUND


def test_cr02_strategy_does_not_retry_an_error():
    def search(query: TraitsQuery) -> InsiAnswer:
        raise InsiTimeout(seconds="10", read_timeout="8", total="10")

    with pytest.raises(InsiTimeout):
        resolve_several(search, ADRUN_TRAITS)


def test_sendable_traits_pass():
    check_traits_query(
        TraitsQuery("D'ARTAGNAN DE L'HERAULT", ("PIERRE-ALAIN",), "M", date(2001, 6, 17), "2B033")
    )


@pytest.mark.parametrize("name", [" ADRUN", "ADRUN ", "ADRUN  LE", "ADRÙN", "adrun", "ADRUN2", "ÆLIS"])
def test_unsendable_birth_names_name_the_trait(name):
    with pytest.raises(InvalidTrait) as caught:
        check_traits_query(TraitsQuery(name, ("ZOE",), "F", date(1975, 12, 31)))
    assert caught.value.field == "birth_name"
    assert (
        "birth name" in caught.value.message("en").lower()
        and "nom de naissance" in caught.value.message("fr").lower()
    )


def test_errors_say_what_to_do_in_french():
    assert "Ne pas réessayer" in InsiConfigurationError(detail="desir_550").message("fr")
    assert "non trouvé" in InsiTimeout(seconds="10", read_timeout="8", total="10").message("fr")


def test_personas_default_file_has_the_public_test_persons():
    book = PersonaBook.load()
    found = book.by_traits("D'ARTAGNAN DE L'HERAULT", ["PIERRE-ALAIN"], "M", "2001-06-17", None)
    assert [p.ins.matricule for p in found] == ["101066322075460"]
    assert book.by_traits("HOUILLES", ["PAUL"], "M", "1993-01-27", None) == []
    assert len(book.by_traits("LEFORT", ["ANNE"], "F", "1985-04-12", None)) == 2
    assert len(book.by_traits("LEFORT", ["ANNE"], "F", "1985-04-12", "69123")) == 1
    for person in book.persons:  # every matricule of the file has a right key
        for ins in (person.ins, *person.history):
            Ins.of(ins.matricule, ins.oid)


def test_simulator_answers_validate_against_the_result_schema():
    schema = etree.XMLSchema(etree.parse("wsdl/INSiResultat.xsd"))
    person = PersonaBook.load().by_traits("BERNARD", ["LUC"], "M", "1965-08-20", None)[0]
    for dialect in ("current", "legacy"):
        envelope = etree.fromstring(soap.resultat("00", person, dialect, "urn:a", "uuid:x"))
        resultat = next(envelope.iter("{http://www.cnamts.fr/INSiResultat}RESULTAT"))
        assert schema.validate(resultat), schema.error_log
    fault_schema = etree.XMLSchema(etree.parse("wsdl/siram.xsd"))
    for kind in soap.FAULTS:
        erreur = next(etree.fromstring(soap.fault(kind, "legacy", None)).iter("{urn:siram}Erreur"))
        assert fault_schema.validate(erreur), fault_schema.error_log


def _assertion(now: datetime, validity: timedelta = timedelta(hours=1), signed: bool = True) -> bytes:
    element = build_assertion(AssertionFacts("CN=X", "899700000001", "1", "SA07"), now, validity)
    if signed:
        etree.SubElement(element, "{http://www.w3.org/2000/09/xmldsig#}Signature")
    return etree.tostring(element)


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"<not-xml", "well-formed"),
        (b"<a/>", "SAML"),
        (_assertion(datetime.now(UTC), signed=False), "signed"),
        (_assertion(datetime.now(UTC) - timedelta(hours=2)), "expired"),
        (_assertion(datetime.now(UTC) + timedelta(hours=1)), "not yet valid"),
        (b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "SAML"),
    ],
)
def test_relayed_assertions_are_checked(data, reason):
    with pytest.raises(InvalidTrait) as caught:
        check_assertion(data, datetime.now(UTC))
    assert reason in caught.value.message("en")


def test_a_valid_relayed_assertion_gives_its_name_id():
    element, name_id = check_assertion(_assertion(datetime.now(UTC)), datetime.now(UTC))
    assert name_id == "899700000001" and element.get("ID").startswith("_")


def test_installation_values_are_created_once(tmp_path):
    assert installation_instance(tmp_path) == installation_instance(tmp_path)
    assert journal_hash_key(tmp_path) == journal_hash_key(tmp_path) and len(journal_hash_key(tmp_path)) == 32
    assert oct((tmp_path / "insi-journal-key").stat().st_mode & 0o777) == "0o600"
