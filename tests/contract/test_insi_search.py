"""Contract: the INSi client against the simulator over a real socket (HTTP): answers 00/01/02."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.errors import InvalidTrait
from app.domain.ins import OID_NIA, OID_NIR, Ins
from app.domain.insi import CallContext, CallPurpose, CrCode, TraitsQuery, Verdict
from app.domain.traits import build_traits
from tests.insi_support import *  # noqa: F403
from tests.insi_support import ADRUN, make_client, settings_for

TODAY = date(2026, 11, 24)
ME = CallContext("agent-42", identity_id=1)

PUBLIC_PERSONS = [
    ("ADRUN", "ZOE", "F", date(1975, 12, 31), "275126322074974", "ZOE", "63220"),
    ("ADRTROIS", "DOMINIQUE", "F", date(1997, 2, 26), "297022A02077878", "DOMINIQUE", "2A020"),
    ("NESSI", "NATHALIE", "F", date(1977, 7, 14), "277076322082910", "NATHALIE", "63220"),
    (
        "D'ARTAGNAN DE L'HERAULT",
        "PIERRE-ALAIN",
        "M",
        date(2001, 6, 17),
        "101066322075460",
        "PIERRE-ALAIN GUNTHER",
        "63220",
    ),
]


@pytest.fixture
def client(sim_http, insi_pki, tmp_path, journal):
    c = make_client(settings_for(sim_http.url, insi_pki), tmp_path / "var", journal)
    yield c
    c.close()


@pytest.mark.parametrize("name,first,sex,born,matricule,first_names,cog", PUBLIC_PERSONS)
def test_public_test_persons_are_found(client, name, first, sex, born, matricule, first_names, cog):
    answer = client.search_by_traits(TraitsQuery(name, (first,), sex, born), ME)
    assert answer.code is CrCode.FOUND and answer.label == "OK"
    assert answer.active.matricule.matricule == matricule
    assert answer.active.oid == OID_NIR
    assert answer.traits.first_names == first_names
    assert answer.traits.first_birth_first_name == first_names.split(" ")[0]
    assert answer.traits.birth_place_code == cog
    assert answer.history == ()


@pytest.mark.parametrize("first", ["PIERRE", "PAUL", "JACQUES"])
def test_houilles_is_not_found(client, first):
    answer = client.search_by_traits(TraitsQuery("HOUILLES", (first,), "M", date(1993, 1, 27)), ME)
    assert answer.code is CrCode.NOT_FOUND
    assert answer.label == "Aucune identite trouvee" and answer.active is None


def test_a_first_name_that_is_not_a_birth_first_name_finds_nobody(client):
    answer = client.search_by_traits(TraitsQuery("ADRUN", ("ZOE", "ANNE"), "F", date(1975, 12, 31)), ME)
    assert answer.code is CrCode.NOT_FOUND


def test_homonyms_answer_02(client):
    answer = client.search_by_traits(TraitsQuery("DURAND", ("MARIE",), "F", date(1990, 3, 3)), ME)
    assert answer.code is CrCode.SEVERAL and answer.label == "Plusieurs identites trouvees"


def test_cr02_strategy_adds_the_other_first_names(client, journal):
    traits = build_traits(
        birth_name="DURAND",
        first_names="MARIE LOUISE",
        birth_date="1990-03-03",
        sex="F",
        birth_place_code="33063",
        today=TODAY,
    )
    resolved = client.resolve_several(traits, ME)
    assert [(a.step, a.code) for a in resolved.attempts] == [
        ("first-name", CrCode.SEVERAL),
        ("all-first-names", CrCode.FOUND),
    ]
    assert resolved.answer.active.matricule.matricule == "290033306302111"
    assert len(journal) == 2


def test_cr02_strategy_then_uses_the_birth_place(client):
    traits = build_traits(
        birth_name="LEFORT",
        first_names="ANNE",
        birth_date="1985-04-12",
        sex="F",
        birth_place_code="59350",
        today=TODAY,
    )
    resolved = client.resolve_several(traits, ME)
    assert [(a.step, a.code) for a in resolved.attempts] == [
        ("first-name", CrCode.SEVERAL),
        ("birth-place", CrCode.FOUND),
    ]
    assert resolved.answer.traits.birth_place_code == "59350"


def test_history_is_a_list_with_dates_as_sent(client):
    answer = client.search_by_traits(TraitsQuery("BERNARD", ("LUC",), "M", date(1965, 8, 20)), ME)
    assert answer.code is CrCode.FOUND
    assert [h.matricule.number for h in answer.history] == ["1650875056099", "1650875156012"]
    odd = answer.history[1]
    assert (odd.start, odd.end) == ("2001-04-01", "1999-12-31")  # end before start: kept as sent


def test_nia_person_and_corsican_birth(client):
    nia = client.search_by_traits(TraitsQuery("KOWALSKI", ("ANNA",), "F", date(1988, 9, 9)), ME)
    assert nia.active.oid == OID_NIA and nia.traits.birth_place_code == "99122"
    corsica = client.search_by_traits(TraitsQuery("SANTONI", ("PAUL",), "M", date(1960, 1, 1)), ME)
    assert corsica.traits.birth_place_code == "2B033"
    assert Ins.of(corsica.active.matricule.matricule, corsica.active.oid).matricule == "160012B03300507"


@pytest.mark.parametrize(
    "query,field",
    [
        (TraitsQuery("adrun", ("ZOE",), "F", date(1975, 12, 31)), "birth_name"),
        (TraitsQuery("ADRÛN", ("ZOE",), "F", date(1975, 12, 31)), "birth_name"),
        (TraitsQuery("ADRUN", ("ZOÉ",), "F", date(1975, 12, 31)), "first_names"),
        (TraitsQuery("CŒUR", ("ZOE",), "F", date(1975, 12, 31)), "birth_name"),
        (TraitsQuery("ADRUN", ("ZOE",), "U", date(1975, 12, 31)), "sex"),
        (TraitsQuery("ADRUN", ("ZOE",), "F", date(1975, 12, 31), "6322"), "birth_place_code"),
    ],
)
def test_traits_outside_the_ins_profile_are_refused_before_any_call(client, sim_http, journal, query, field):
    with pytest.raises(InvalidTrait) as error:
        client.search_by_traits(query, ME)
    assert error.value.field == field
    assert list(sim_http.behaviour.received) == [] and journal == []


def test_verify_confirms_a_stored_ins(client):
    traits = build_traits(
        birth_name="ADRUN",
        first_names="ZOE",
        birth_date="1975-12-31",
        sex="F",
        birth_place_code="63220",
        today=TODAY,
    )
    result = client.verify_ins(traits, Ins.of("275126322074974", OID_NIR), ME)
    assert result.verdict is Verdict.CONFIRMED


def test_verify_detects_a_different_ins(client):
    traits = build_traits(
        birth_name="BERNARD",
        first_names="LUC ANDRE",
        birth_date="1965-08-20",
        sex="M",
        birth_place_code="75056",
        today=TODAY,
    )
    stale = Ins.of("165087505609973", OID_NIR)  # now only in INSHISTO
    result = client.verify_ins(traits, stale, ME)
    assert result.verdict is Verdict.DIFFERENT_INS
    assert result.answer.active.matricule.matricule == "165087505603243"


def test_verify_detects_differing_traits(client):
    traits = build_traits(
        birth_name="D'ARTAGNAN DE L'HERAULT",
        first_names="PIERRE-ALAIN",
        birth_date="2001-06-17",
        sex="M",
        birth_place_code="63220",
        today=TODAY,
    )
    result = client.verify_ins(traits, Ins.of("101066322075460", OID_NIR), ME)
    assert result.verdict is Verdict.TRAITS_DIFFER and result.differing_traits == ("first_names",)


def test_verify_reports_not_found(client):
    traits = build_traits(
        birth_name="HOUILLES", first_names="PIERRE", birth_date="1993-01-27", sex="M", today=TODAY
    )
    result = client.verify_ins(traits, Ins.of("275126322074974", OID_NIR), ME)
    assert result.verdict is Verdict.NOT_FOUND


def test_journal_records_each_call_without_traits(client, journal, sim_http):
    client.search_by_traits(ADRUN, CallContext("agent-42", CallPurpose.ATTENDED, identity_id=7))
    (record,) = journal
    assert record.outcome == "00" and record.requested_by == "agent-42" and record.identity_id == 7
    assert record.emitter == "499700000000000 IDENTITO TEST"
    assert record.message_id.encode() in sim_http.behaviour.received[-1]
    assert len(record.traits_hash) == 64 and "ADRUN" not in repr(record)
    client.search_by_traits(ADRUN, ME)
    assert journal[1].traits_hash == record.traits_hash and journal[1].message_id != record.message_id
