"""Parsing PAM FR 2.11 identity messages into raw identity data."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.ins import OID_NIR_TEST, Ins
from app.domain.traits import Sex, build_traits
from app.integrations.hl7.errors import Hl7FormatError
from app.integrations.hl7.parse import parse_ack, parse_pam, sniff_header
from tests.hl7_samples import TODAY, ans_sample

MSH = (
    "MSH|^~\\&|GAM|CHU-X|IDENTITO|CHU-X|20260115101010||ADT^{event}|{cid}|P|2.5^FRA^2.11|||||FRA|{cs}|FR||"
    "2.11^IHE_FRANCE-2.11-PAM"
)


def message(
    pid3: str = "77^^^GAM&1.2.3&ISO^PI",
    *,
    event: str = "A31^ADT_A05",
    cid: str = "C1",
    cs: str = "UNICODE UTF-8",
    pid5: str = "DUPONT^MARIE^MARIE ANNE^^^^L",
    pid7: str = "19800101",
    extra: tuple[str, ...] = (),
) -> str:
    """A small PAM message with the given fields."""
    header = MSH.format(event=event, cid=cid, cs=cs)
    pid = f"PID|1||{pid3}||{pid5}||{pid7}|F|||^^^^^^BDL^^75056|||||||||||||||||||||PROV~HOMA"
    return "\r".join([header, "EVN||20260115101010", pid, *extra]) + "\r"


def test_ans_sample_gives_the_identity_of_pat_trois_dominique():
    parsed = parse_pam(ans_sample())
    assert (parsed.event, parsed.header.control_id, parsed.header.sending_application) == (
        "A01",
        "3975",
        "GAM",
    )
    assert (parsed.ipp.value, parsed.ipp.namespace, parsed.ipp.universal_id) == (
        "000003",
        "CHU-X",
        "000897406",
    )
    assert [(c.matricule, c.oid) for c in parsed.ins] == [("279035121518989", OID_NIR_TEST)]
    assert Ins.of(parsed.ins[0].matricule, parsed.ins[0].oid).usage.value == "TEST"
    traits = build_traits(
        birth_name=parsed.birth_name,
        first_names=parsed.first_names,
        first_name=parsed.first_name,
        birth_date=parsed.birth_date,
        sex=parsed.sex,
        birth_place_code=parsed.birth_place_code,
        today=TODAY,
    )
    assert (traits.birth_name, traits.first_names, traits.first_name) == (
        "PAT-TROIS",
        "DOMINIQUE",
        "DOMINIQUE",
    )
    assert (traits.birth_date, traits.sex, traits.birth_place_code) == (date(1979, 3, 28), Sex.F, "63220")
    assert parsed.status_code == "VALI" and parsed.attribute_codes == ()
    assert parsed.zfd is not None
    assert (parsed.zfd.identity_mode, parsed.zfd.last_insi_call_date) == ("INSI", date(2021, 12, 1))
    assert (parsed.zfd.sms_consent, parsed.zfd.birth_date_corrected) == ("Y", "N")
    assert parsed.prior_ipp is None and parsed.used_name == ""


def test_used_name_pseudonym_and_attributes_are_read():
    parsed = parse_pam(message(pid5="DUPONT^MARIE^MARIE ANNE^^^^L~MARTIN^MIMI^^^^^D").encode())
    assert (parsed.birth_name, parsed.first_name, parsed.first_names) == ("DUPONT", "MARIE", "MARIE ANNE")
    assert (parsed.used_name, parsed.used_first_name, parsed.pseudonym) == ("MARTIN", "MIMI", False)
    assert parsed.status_code == "PROV" and parsed.attribute_codes == ("HOMA",)
    assert parse_pam(message(pid5="X^Y^^^^^S").encode()).pseudonym


def test_latin1_message_is_decoded_per_msh18():
    raw = message(cs="8859/1", pid5="DUPONT^MARIE^MARIE ANNE^^^^L~LÉGER^HÉLÈNE^^^^^D").encode("latin-1")
    parsed = parse_pam(raw)
    assert (parsed.used_name, parsed.used_first_name, parsed.header.charset) == ("LÉGER", "HÉLÈNE", "8859/1")


def test_utf8_is_the_default_and_a_wrong_declaration_is_refused():
    utf8 = message(cs="", pid5="DUPONT^MARIE^MARIE^^^^L~LÉGER^^^^^^D").encode("utf-8")
    assert parse_pam(utf8).used_name == "LÉGER"
    latin1 = message(pid5="DUPONT^MARIE^MARIE^^^^L~LÉGER^^^^^^D").encode("latin-1")
    with pytest.raises(Hl7FormatError) as error:
        parse_pam(latin1)
    assert (error.value.code, error.value.field) == ("hl7-charset-mismatch", "MSH-18")
    with pytest.raises(Hl7FormatError) as error:
        parse_pam(message(cs="ISO IR87").encode())
    assert error.value.code == "hl7-charset-unsupported"


def test_ins_is_recognised_by_type_and_oid_never_by_namespace():
    pid3 = (
        "77^^^GAM&1.2.3&ISO^PI~275126322074974^^^ASIP-SANTE-INS-NIR&1.2.3.4&ISO^NH"
        "~275126322074974^^^ANYTHING&1.2.250.1.213.1.4.8&ISO^INS"
    )
    parsed = parse_pam(message(pid3=pid3).encode())
    assert [(c.matricule, c.oid) for c in parsed.ins] == [("275126322074974", "1.2.250.1.213.1.4.8")]
    with pytest.raises(Hl7FormatError) as error:
        parse_pam(message(pid3="77^^^GAM&1.2.3&ISO^PI~275126322074974^^^ASIP-SANTE-INS-NIR^INS").encode())
    assert (error.value.code, error.value.field) == ("hl7-ins-oid-missing", "PID-3")


def test_hl7_null_withdraws_the_ins():
    pid3 = '77^^^GAM&1.2.3&ISO^PI~""^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS'
    (candidate,) = parse_pam(message(pid3=pid3).encode()).ins
    assert candidate.withdrawn and candidate.oid == "1.2.250.1.213.1.4.8"


@pytest.mark.parametrize(
    ("pid7", "iso"),
    [
        ("19790328", "1979-03-28"),
        ("197903", "1979-03"),
        ("1979", "1979"),
        ("197903281130", "1979-03-28"),
        ("19790328113000+0100", "1979-03-28"),
        ("", ""),
    ],
)
def test_birth_date_precisions(pid7, iso):
    assert parse_pam(message(pid7=pid7).encode()).birth_date == iso


@pytest.mark.parametrize("pid7", ["1979-03-28", "19790x28", "79", "28/03/1979"])
def test_malformed_birth_date_names_pid7(pid7):
    with pytest.raises(Hl7FormatError) as error:
        parse_pam(message(pid7=pid7).encode())
    assert (error.value.code, error.value.field, error.value.hl7_code) == ("hl7-bad-date", "PID-7", "102")


@pytest.mark.parametrize("event", ["A40^ADT_A39", "A47^ADT_A30"])
def test_merge_and_identifier_change_read_mrg1(event):
    raw = message(event=event, extra=("MRG|55^^^GAM&1.2.3&ISO^PI",)).encode()
    assert parse_pam(raw).prior_ipp.value == "55"
    with pytest.raises(Hl7FormatError) as error:
        parse_pam(message(event=event).encode())
    assert (error.value.code, error.value.field) == ("hl7-missing-segment", "MRG")


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (message(cid=""), "hl7-missing-field", "MSH-10"),
        (message(event="A29^ADT_A21"), "hl7-event-unsupported", "MSH-9"),
        (message().replace("ADT^A31", "ORU^R01"), "hl7-not-adt", "MSH-9"),
        (message(pid3="12^^^GAM&1.2.3&ISO^AN"), "hl7-no-ipp", "PID-3"),
        (message().split("\r")[0] + "\r", "hl7-missing-segment", "PID"),
        ("PID|1||x\r", "hl7-not-hl7", "MSH"),
        (message(extra=("ZFD|||||INSI|2021120||",)), "hl7-bad-date", "ZFD-6"),
    ],
)
def test_structural_errors_are_typed_with_the_field(raw, code, field):
    with pytest.raises(Hl7FormatError) as error:
        parse_pam(raw.encode())
    assert (error.value.code, error.value.field) == (code, field)


def test_errors_render_in_french_and_english():
    with pytest.raises(Hl7FormatError) as error:
        parse_pam(message(pid7="19790x28").encode())
    assert "PID-7" in error.value.message("fr") and "AAAAMMJJ" in error.value.message("fr")
    assert "YYYYMMDD" in error.value.message("en")


def test_escaped_delimiters_are_unescaped():
    parsed = parse_pam(message(pid5="DUPONT^MARIE^MARIE^^^^L~O\\S\\NEIL\\T\\CO^^^^^^D").encode())
    assert parsed.used_name == "O^NEIL&CO"


def test_sniff_header_is_best_effort():
    assert sniff_header(b"garbage") is None
    header = sniff_header(message(cs="ISO IR87").encode())
    assert header is not None and header.control_id == "C1"


def test_parse_ack_reads_code_id_and_reason():
    raw = (
        "MSH|^~\\&|DPI|CHU-X|IDENTITO|CHU-X|20260115||ACK^A31^ACK|9|P|2.5\rMSA|AE|42\r"
        "ERR||PID^1^7|102^^HL70357|E|bad-date|||Date \\F\\ invalid\r"
    )
    ack = parse_ack(raw.encode())
    assert (ack.code, ack.control_id, ack.text, ack.error_code) == ("AE", "42", "Date | invalid", "bad-date")
