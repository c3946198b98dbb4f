"""The ER7 splitter: same trees as python-hl7 on every field, standard escapes, clear refusals."""

from __future__ import annotations

import random

import hl7
import pytest
from hl7.util import unescape

from app.integrations.hl7.er7 import Er7Message, decode
from app.integrations.hl7.errors import Hl7FormatError
from app.integrations.hl7.parse import parse_pam
from tests.hl7_samples import ans_sample
from tests.unit.test_hl7_parse import message


def python_hl7_tree(parsed: hl7.Message, segment: hl7.Segment, number: int) -> list[list[list[str]]]:
    """python-hl7's irregular containers made regular (a plain string is one value)."""
    if number >= len(segment):
        return []
    field = segment[number]
    if str(segment[0]) == "MSH" and number <= 2:
        return [[[str(field)]]]
    tree = []
    for rep in field:
        if isinstance(rep, str):
            tree.append([[unescape(parsed, rep)]])
            continue
        tree.append(
            [
                [unescape(parsed, comp)] if isinstance(comp, str) else [unescape(parsed, s) for s in comp]
                for comp in rep
            ]
        )
    return tree


def assert_same_as_python_hl7(text: str) -> None:
    text = text.strip()  # python-hl7 strips the message; the listener's decode() does too
    ours = Er7Message.split(text)
    reference = hl7.parse(text)
    assert [s[0] for s in ours.segments] == [str(s[0]) for s in reference]
    for mine, theirs in zip(ours.segments, reference, strict=True):
        assert len(mine) == len(theirs)
        for number in range(1, len(theirs) + 1):
            assert ours.tree(mine, number) == python_hl7_tree(reference, theirs, number), (mine[0], number)


def random_field(rng: random.Random, delimiters: str, escapes: list[str]) -> str:
    """A field of random text, delimiters (not the field separator) and well-formed escapes."""
    pieces = []
    for _ in range(rng.randint(0, 12)):
        pick = rng.random()
        if pick < 0.25:
            pieces.append(rng.choice(delimiters))
        elif pick < 0.35:
            pieces.append(rng.choice(escapes))
        else:
            pieces.append(rng.choice(["DUPONT", "MARIE", "É", "1.2.250.1.213.1.4.8", "", " ", "ISO", '""']))
    return "".join(pieces)


@pytest.mark.parametrize("separators", ["|^~\\&", "$%*!#"])
def test_random_messages_split_exactly_as_python_hl7(separators: str):
    field, component, repetition, esc, subcomponent = separators
    escapes = [f"{esc}{code}{esc}" for code in ("F", "S", "T", "R", "E", "X41", "X4142")]
    rng = random.Random(20261124)
    for _ in range(300):
        header = field.join(
            ["MSH", component + repetition + esc + subcomponent, "GAM", "CHU", "", "", "20260101", "",
             f"ADT{component}A31", "C1", "P", "2.5"]
        )
        segments = [header]
        for name in rng.choices(["PID", "PV1", "ZFD", "MRG", "NK1"], k=rng.randint(1, 4)):
            delimiters = component + repetition + subcomponent
            fields = [random_field(rng, delimiters, escapes) for _ in range(rng.randint(0, 35))]
            segments.append(field.join([name, *fields]))
        assert_same_as_python_hl7("\r".join(segments))


def test_official_sample_splits_as_python_hl7():
    assert_same_as_python_hl7(decode(ans_sample())[0])


def test_delimiters_declared_in_msh_2_are_used():
    text = message().replace("MSH|^~\\&|", "MSH|$~\\&|").replace("|", "!").replace("^", "$")
    parsed = parse_pam(text.encode())
    read = (parsed.birth_name, parsed.first_names, parsed.ipp.universal_id)
    assert read == ("DUPONT", "MARIE ANNE", "1.2.3")


def test_hexadecimal_escapes_are_bytes_of_the_message_character_set():
    utf8 = parse_pam(message(pid5="LEFEVRE^H\\XC389\\L\\XC388\\NE^H\\XC389\\L\\XC388\\NE^^^^L").encode())
    assert utf8.first_name == "HÉLÈNE"
    latin1 = message(pid5="LEFEVRE^H\\XC9\\L\\XC8\\NE^H\\XC9\\L\\XC8\\NE^^^^L", cs="8859/1")
    assert parse_pam(latin1.encode("latin-1")).first_names == "HÉLÈNE"


def test_highlighting_and_formatting_sequences_carry_no_data():
    parsed = parse_pam(message(pid5="\\H\\DUPONT\\N\\^MARIE^MARIE\\.br\\^^^^L").encode())
    assert (parsed.birth_name, parsed.first_names) == ("DUPONT", "MARIE")


@pytest.mark.parametrize(
    "pid5",
    [
        "DUP\\ONT^MARIE^MARIE^^^^L",  # unterminated
        "DUPONT^MARIE^MARIE\\Q\\^^^^L",  # unknown sequence
        "DUPONT^MARIE^MARIE\\XZZ\\^^^^L",  # not hexadecimal
        "DUPONT^MARIE^MARIE\\XC3\\^^^^L",  # half a UTF-8 character
        "DUPONT\\\\^MARIE^MARIE^^^^L",  # empty sequence
    ],
)
def test_a_malformed_escape_refuses_the_message_naming_the_field(pid5: str):
    with pytest.raises(Hl7FormatError) as caught:
        parse_pam(message(pid5=pid5).encode())
    assert (caught.value.code, caught.value.field) == ("hl7-bad-escape", "PID-5")


def test_a_malformed_escape_in_a_field_not_read_does_not_matter():
    parsed = parse_pam(message(extra=("ZBE|1|\\Q\\",)).encode())
    assert parsed.birth_name == "DUPONT"


@pytest.mark.parametrize("msh", ["MSH|^^\\&|", "MSH|^~\\^|", "MSHA^~\\&A"])
def test_delimiters_that_are_not_distinct_refuse_the_message(msh: str):
    text = msh + "GAM|CHU|||20260101||ADT^A31|C1|P|2.5\rPID|1||77^^^GAM&1.2.3&ISO^PI"
    with pytest.raises(Hl7FormatError) as caught:
        Er7Message.split(text)
    assert caught.value.code == "hl7-bad-separators"


def test_text_without_msh_is_not_hl7():
    with pytest.raises(Hl7FormatError) as caught:
        Er7Message.split("PID|1||77")
    assert caught.value.code == "hl7-not-hl7"


def test_a_malformed_escape_in_a_value_not_read_does_not_refuse_the_message():
    home = "3 RUE DU PORT\\^^PARIS^^75001^^H"  # a stray backslash in the home address (PID-11, type H)
    text = message().replace("|^^^^^^BDL^^75056|", f"|{home}~^^^^^^BDL^^75056|")
    assert home in text
    parsed = parse_pam(text.encode())
    assert parsed.birth_place_code == "75056"


def test_a_malformed_escape_in_the_birth_place_is_refused_naming_pid_11():
    text = message().replace("|^^^^^^BDL^^75056|", "|^^^^^^BDL^^75\\Q\\056|")
    with pytest.raises(Hl7FormatError) as caught:
        parse_pam(text.encode())
    assert (caught.value.code, caught.value.field) == ("hl7-bad-escape", "PID-11")
