"""Pure rules of links (A24/A37) and collisions (COLP), and the A24/A37 messages built and parsed back."""

from __future__ import annotations

from dataclasses import replace

import hl7
import pytest

from app.domain.collisions import CollisionAction, demoted, ins_set_aside
from app.domain.errors import RuleViolation
from app.domain.identity import Identity
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.domain.links import check_link, check_unlink
from app.domain.status import Event, IdentityState, Status
from app.domain.traits import build_traits
from app.integrations.hl7.build import OutboundFormat, build_link_message
from app.integrations.hl7.parse import parse_pam
from tests.hl7_samples import TODAY, envelope, outbound_identity

TRAITS = build_traits(birth_name="DURAND", first_names="LUCIE", birth_date="1982-04-05", sex="F", today=TODAY)
INS = InsRecord(Ins.of("275126322074974", OID_NIR), True, "INSI")


def identity(ident: int, status: Status = Status.PROV, **changes: object) -> Identity:
    insi, document = status in (Status.RECUP, Status.QUAL), status in (Status.VALI, Status.QUAL)
    records = (INS,) if insi else ()
    base = Identity(ident, f"IPP{ident}", TRAITS, IdentityState(insi=insi, document=document), 1, records)
    return replace(base, **changes)  # type: ignore[arg-type]


def code_of(call) -> str:
    with pytest.raises(RuleViolation) as refused:
        call()
    return refused.value.code


def test_link_rules() -> None:
    a, b = identity(1), identity(2)
    check_link(a, b, linked=False)
    check_unlink(a, b, linked=True)
    assert code_of(lambda: check_link(a, a, linked=False)) == "link-same-identity"
    assert code_of(lambda: check_link(a, b, linked=True)) == "link-exists"
    assert code_of(lambda: check_unlink(a, b, linked=False)) == "link-missing"
    closed = identity(2, active=False, merged_into=3)
    assert code_of(lambda: check_link(a, closed, linked=False)) == "identity-merged"
    assert code_of(lambda: check_unlink(closed, a, linked=True)) == "identity-merged"


@pytest.mark.parametrize(("status", "after"), [(Status.QUAL, Status.PROV), (Status.RECUP, Status.PROV),
                                               (Status.VALI, Status.PROV)])
def test_demotion_drops_both_facts(status: Status, after: Status) -> None:
    state, events = demoted(identity(1, status))
    assert state.status is after
    assert (Event.DOCUMENTS_SET_ASIDE in events) == (status in (Status.VALI, Status.QUAL))
    assert (Event.INS_DEACTIVATED in events) == (status in (Status.RECUP, Status.QUAL))


def test_nothing_to_demote_and_no_ins_to_set_aside_are_refused() -> None:
    assert code_of(lambda: demoted(identity(1))) == "collision-nothing-to-demote"
    assert code_of(lambda: ins_set_aside(identity(1, Status.VALI))) == "collision-no-ins"
    assert ins_set_aside(identity(1, Status.QUAL))[0].status is Status.VALI
    assert ins_set_aside(identity(1, Status.RECUP))[0].status is Status.PROV
    assert code_of(lambda: CollisionAction.parse("guess")) == "collision-action-unknown"


@pytest.mark.parametrize("fmt", list(OutboundFormat))
@pytest.mark.parametrize(("event", "structure"), [("A24", "ADT_A24"), ("A37", "ADT_A37")])
def test_link_messages_carry_two_pids_in_the_subscriber_format(event: str, structure: str,
                                                               fmt: OutboundFormat) -> None:
    first, second = outbound_identity(Status.QUAL, ipp="111"), outbound_identity(Status.RECUP, ipp="222")
    text = build_link_message(event, first, second, envelope(), fmt)
    message = hl7.parse(text.strip())
    assert str(message.segment("MSH")[9]) == f"ADT^{event}^{structure}"
    assert [str(s[0]) for s in message] == ["MSH", "EVN", "PID", "PID"]
    pids = list(message.segments("PID"))
    ins = [(str(r[0]), str(r[4])) for r in pids[0][3]]
    # The INS of a QUAL identity only, and only to an INS-ready subscriber; a RECUP one never.
    assert ins == ([("111", "PI"), ("275126322074974", "INS")] if fmt is OutboundFormat.INS_READY
                   else [("111", "PI")])
    assert [(str(r[0]), str(r[4])) for r in pids[1][3]] == [("222", "PI")]
    parsed = parse_pam(text.encode())
    assert (parsed.event, parsed.ipp.value, parsed.linked_ipp.value) == (event, "111", "222")
