"""Building PAM FR messages: both formats, parse-back with Identito's parser, python-hl7 and hl7apy."""

from __future__ import annotations

import re

import hl7
import pytest
from hl7.util import unescape as hl7_unescape
from hl7apy.parser import parse_message
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.ins import OID_NIA, OID_NIR, Ins
from app.domain.status import Attribute, Status
from app.domain.traits import build_traits
from app.integrations.hl7.build import (
    AckErrorDetail,
    OutboundFormat,
    build_ack,
    build_identity_message,
)
from app.integrations.hl7.er7 import encode
from app.integrations.hl7.parse import parse_ack, parse_pam
from tests.hl7_samples import TODAY, envelope, outbound_identity

INS_READY, LEGACY = OutboundFormat.INS_READY, OutboundFormat.LEGACY
_ESCAPE = re.compile(r"\\(F|S|T|R|E|X[0-9A-Fa-f]{2})\\")
_DELIMITERS = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def hl7apy_unescape(value: str) -> str:
    """Independent single-pass decoder of the standard escape sequences (hl7apy keeps them)."""
    return _ESCAPE.sub(lambda m: _DELIMITERS.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), value)


def apy(text: str):
    """Parse with hl7apy (tolerant, no group detection: ZFD is a Z segment)."""
    return parse_message(text, find_groups=False)


def test_ins_ready_qual_identity_parses_back_to_the_same_traits_ins_and_status():
    identity = outbound_identity(Status.QUAL, (Attribute.HOMA,))
    parsed = parse_pam(build_identity_message("A31", identity, envelope(), INS_READY).encode())
    traits = build_traits(
        birth_name=parsed.birth_name,
        first_names=parsed.first_names,
        first_name=parsed.first_name,
        birth_date=parsed.birth_date,
        sex=parsed.sex,
        birth_place_code=parsed.birth_place_code,
        used_name=parsed.used_name,
        used_first_name=parsed.used_first_name,
        today=TODAY,
    )
    assert traits == identity.traits
    assert [(c.matricule, c.oid) for c in parsed.ins] == [("275126322074974", OID_NIR)]
    assert (parsed.status_code, parsed.attribute_codes) == ("VALI", ("HOMA",))
    assert parsed.ipp.value == "123456" and parsed.header.control_id == "42"
    assert parsed.zfd.identity_mode == "INSI" and parsed.zfd.document_type == "CN"
    assert parsed.zfd.document_expiry_date == identity.document_expiry_date


def test_hl7apy_reads_the_same_identity():
    identity = outbound_identity(Status.QUAL)
    message = apy(build_identity_message("A31", identity, envelope("77"), INS_READY))
    assert message.msh.msh_9.to_er7() == "ADT^A31^ADT_A05" and message.msh.msh_10.value == "77"
    pid = message.pid
    assert [(r.cx_1.value, r.cx_4.hd_2.to_er7(), r.cx_5.value) for r in pid.pid_3] == [
        ("123456", "1.2.250.1.71.4.2.2.999", "PI"),
        ("275126322074974", OID_NIR, "INS"),
    ]
    assert [(n.xpn_1.to_er7(), n.xpn_2.value, n.xpn_3.value, n.xpn_7.value) for n in pid.pid_5] == [
        ("DE LA FONTAINE-D'ARC", "JEAN-CHRISTOPHE", "JEAN-CHRISTOPHE PIERRE", "L"),
        ("MARTIN", "JC", "", "D"),
    ]
    assert (pid.pid_7.to_er7(), pid.pid_8.value) == ("19751206", "F")
    assert [(a.xad_7.value, a.xad_9.value) for a in pid.pid_11] == [("BDL", "63220")]
    assert [c.to_er7() for c in pid.pid_32] == ["VALI"]
    assert (message.zfd.zfd_4.value, message.zfd.zfd_5.value, message.zfd.zfd_6.value) == (
        "N",
        "INSI",
        "20260110",
    )


def test_python_hl7_reads_the_same_identity():
    identity = outbound_identity(Status.QUAL, (Attribute.HOMA,))
    message = hl7.parse(build_identity_message("A31", identity, envelope("78"), INS_READY))

    def value(segment: str, field: int) -> str:
        return hl7_unescape(message, str(message.segment(segment)[field]))

    assert str(message.segment("MSH")[9]) == "ADT^A31^ADT_A05" and str(message.segment("MSH")[10]) == "78"
    pid = message.segment("PID")
    ids = [(str(r[0]), str(r[3][1]), str(r[4])) for r in pid[3]]
    assert ids == [("123456", "1.2.250.1.71.4.2.2.999", "PI"), ("275126322074974", OID_NIR, "INS")]
    names = [(hl7_unescape(message, str(n[0])), str(n[1]), str(n[2]), str(n[6])) for n in pid[5]]
    assert names == [
        ("DE LA FONTAINE-D'ARC", "JEAN-CHRISTOPHE", "JEAN-CHRISTOPHE PIERRE", "L"),
        ("MARTIN", "JC", "", "D"),
    ]
    assert (value("PID", 7), value("PID", 8)) == ("19751206", "F")
    assert [(str(a[6]), str(a[8])) for a in pid[11]] == [("BDL", "63220")]
    assert [str(c) for c in pid[32]] == ["VALI", "HOMA"]
    assert (value("ZFD", 4), value("ZFD", 5), value("ZFD", 6)) == ("N", "INSI", "20260110")


@pytest.mark.parametrize(
    ("status", "sent", "with_ins"),
    [
        (Status.PROV, "PROV", False),
        (Status.RECUP, "PROV", False),
        (Status.VALI, "VALI", False),
        (Status.QUAL, "VALI", True),
    ],
)
def test_status_mapping_and_ins_only_for_qual(status, sent, with_ins):
    parsed = parse_pam(
        build_identity_message("A31", outbound_identity(status), envelope(), INS_READY).encode()
    )
    assert parsed.status_code == sent
    assert bool(parsed.ins) is with_ins


def test_doubtful_identity_sends_prov_and_dout():
    text = build_identity_message(
        "A31", outbound_identity(Status.PROV, (Attribute.DOUT, Attribute.HOMA)), envelope(), INS_READY
    )
    parsed = parse_pam(text.encode())
    assert parsed.reliability_codes == ("PROV", "DOUT", "HOMA") and parsed.ins == ()


def test_withdrawn_ins_is_sent_as_hl7_null_with_its_oid():
    nia = Ins.of("275126322074974", OID_NIA)
    text = build_identity_message("A31", outbound_identity(Status.VALI, withdrawn=nia), envelope(), INS_READY)
    assert '~""^^^ASIP-SANTE-INS-NIA&1.2.250.1.213.1.4.9&ISO^INS|' in text
    (candidate,) = parse_pam(text.encode()).ins
    assert candidate.withdrawn and candidate.oid == OID_NIA
    legacy = build_identity_message("A31", outbound_identity(Status.VALI, withdrawn=nia), envelope(), LEGACY)
    assert "INS" not in legacy.split("\r")[2]


@pytest.mark.parametrize("status", list(Status))
def test_legacy_differs_exactly_by_ins_repetition_status_code_and_zfd(status):
    identity = outbound_identity(status, (Attribute.HOMA,))
    ready = build_identity_message("A31", identity, envelope(), INS_READY).split("\r")
    legacy = build_identity_message("A31", identity, envelope(), LEGACY).split("\r")
    expected = [s for s in ready if not s.startswith("ZFD")]
    pid = expected[2].split("|")
    pid[3] = pid[3].split("~")[0]
    pid[32] = "~".join(pid[32].split("~")[1:])
    expected[2] = "|".join(pid)
    assert legacy == expected
    assert ready != legacy
    assert "ZFD" in [s[:3] for s in ready]


def test_legacy_message_parses_back_without_ins_status_or_zfd():
    parsed = parse_pam(
        build_identity_message("A28", outbound_identity(Status.QUAL), envelope(), LEGACY).encode()
    )
    assert (parsed.ins, parsed.status_code, parsed.zfd, parsed.event) == ((), None, None, "A28")
    assert parsed.birth_name == "DE LA FONTAINE-D'ARC" and parsed.birth_place_code == "63220"


@pytest.mark.parametrize(("event", "structure"), [("A40", "ADT_A39"), ("A47", "ADT_A30")])
def test_merge_and_identifier_change_carry_mrg1(event, structure):
    text = build_identity_message(event, outbound_identity(), envelope(), INS_READY, prior_ipp="999")
    parsed = parse_pam(text.encode())
    assert (parsed.event, parsed.header.structure, parsed.prior_ipp.value) == (event, structure, "999")
    assert apy(text).mrg.mrg_1.cx_1.value == "999"
    with pytest.raises(ValueError):
        build_identity_message(event, outbound_identity(), envelope(), INS_READY)


def test_latin1_subscriber_gets_latin1_bytes():
    text = build_identity_message("A31", outbound_identity(), envelope(charset="8859/1"), INS_READY)
    raw = encode(text.replace("CHU-X", "CHU-É"), "8859/1")
    assert "É".encode("latin-1") in raw
    assert parse_pam(raw).header.sending_facility == "CHU-É"


def test_completed_birth_date_sets_zfd4():
    identity = outbound_identity(birth_date="1975")
    parsed = parse_pam(build_identity_message("A31", identity, envelope(), INS_READY).encode())
    assert (parsed.birth_date, parsed.zfd.birth_date_corrected) == ("1975-12-31", "Y")


def test_ack_round_trip_with_error_reason():
    detail = AckErrorDetail("PID-7", "102", "hl7-bad-date", "Date | invalide & fausse")
    text = build_ack(envelope("A1"), "A31", "3975", "AE", detail)
    ack = parse_ack(text.encode())
    assert (ack.code, ack.control_id, ack.text, ack.error_code) == (
        "AE",
        "3975",
        "Date | invalide & fausse",
        "hl7-bad-date",
    )
    message = apy(text)
    assert (message.msa.msa_1.value, message.msa.msa_2.value) == ("AE", "3975")
    assert message.err.err_2.to_er7() == "PID^1^7" and message.err.err_3.to_er7().startswith("102")
    assert parse_ack(build_ack(envelope(), "A31", "3975", "AA").encode()).code == "AA"


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s != '""'
)


@settings(max_examples=60, deadline=None)
@given(ipp=_text, application=_text, code=_text)
def test_any_value_survives_escaping_in_both_parsers(ipp, application, code):
    identity = outbound_identity(ipp=ipp)
    identity = type(identity)(
        **{**{f: getattr(identity, f) for f in identity.__slots__}, "other_codes": (code,)}
    )
    env = envelope()
    env = type(env)(**{**{f: getattr(env, f) for f in env.__slots__}, "sending_application": application})
    text = build_identity_message("A31", identity, env, INS_READY)
    parsed = parse_pam(text.encode())
    assert (parsed.ipp.value, parsed.header.sending_application) == (ipp, application)
    assert parsed.attribute_codes[-1] == code.upper()
    message = apy(text)
    assert hl7apy_unescape(message.pid.pid_3[0].cx_1.value) == ipp
    assert hl7apy_unescape(message.msh.msh_3.to_er7()) == application
