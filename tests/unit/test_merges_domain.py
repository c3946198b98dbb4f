"""The RNIV rules of a merge, pure (ins-rniv §6, RNIV EXI SI 07 and 09)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import RuleViolation
from app.domain.identity import Identity
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.domain.merges import RELIABILITY, check_merge, check_unmerge, two_persons_by_ins
from app.domain.status import Attribute, IdentityState, Status
from app.domain.traits import build_traits

TRAITS = build_traits(birth_name="DUPONT", first_names="MARIE", birth_date=date(1961, 3, 4), sex="F",
                      today=date(2026, 11, 30))
INS_A, INS_B = "275126322074974", "297022A02077878"


def identity(identity_id: int, status: Status = Status.PROV, *, attributes=(), active: str | None = None,
             history: tuple[str, ...] = (), merged_into: int | None = None) -> Identity:
    records = tuple(InsRecord(Ins.of(m, OID_NIR), True, "INSI") for m in ([active] if active else []))
    records += tuple(InsRecord(Ins.of(m, OID_NIR), False, "INSI") for m in history)
    state = IdentityState.of(status, attributes)
    return Identity(identity_id, f"IPP{identity_id}", TRAITS, state, 1, records, active=merged_into is None,
                    merged_into=merged_into)


def refusal(survivor: Identity, absorbed: Identity) -> str:
    with pytest.raises(RuleViolation) as refused:
        check_merge(survivor, absorbed)
    return refused.value.code


@given(st.sampled_from(list(Status)), st.sampled_from(list(Status)))
def test_the_survivor_must_be_at_least_as_reliable(survivor: Status, absorbed: Status) -> None:
    ins = {Status.RECUP: INS_A, Status.QUAL: INS_A}
    a = identity(1, survivor, active=ins.get(survivor))
    b = identity(2, absorbed, active=None if absorbed in ins and survivor in ins else ins.get(absorbed))
    if RELIABILITY[absorbed] > RELIABILITY[survivor]:
        assert refusal(a, b) == "merge-survivor-less-reliable"
    else:
        check_merge(a, b)  # allowed: the survivor's status, traits and INS stay


@pytest.mark.parametrize("attributes", [(Attribute.DOUT,), (Attribute.FICT,),
                                        (Attribute.DOUT, Attribute.HOMA)])
def test_doubtful_or_fictitious_identities_are_settled_first(attributes) -> None:
    assert refusal(identity(1), identity(2, attributes=attributes)) == "merge-blocked-attribute"
    assert refusal(identity(2, attributes=attributes), identity(1)) == "merge-blocked-attribute"
    check_merge(identity(1, attributes=(Attribute.HOMA,)), identity(2))  # a confirmed homonym may be merged


def test_two_active_ins_are_two_persons_unless_insi_replaced_one() -> None:
    other = identity(2, Status.RECUP, active=INS_B)
    assert refusal(identity(1, Status.QUAL, active=INS_A), other) == "merge-two-ins"
    replaced = identity(1, Status.QUAL, active=INS_A, history=(INS_B,))
    assert not two_persons_by_ins(replaced, identity(2, Status.RECUP, active=INS_B))
    check_merge(replaced, identity(2, Status.RECUP, active=INS_B))


def test_an_identity_with_itself_or_a_closed_one_is_not_merged() -> None:
    assert refusal(identity(1), identity(1)) == "merge-same-identity"
    assert refusal(identity(1), identity(2, merged_into=3)) == "identity-merged"
    with pytest.raises(RuleViolation) as refused:
        check_unmerge(identity(2), None)
    assert refused.value.code == "unmerge-not-merged"
    with pytest.raises(RuleViolation) as chained:
        check_unmerge(identity(2, merged_into=3), identity(3, merged_into=4))
    assert chained.value.code == "unmerge-survivor-merged"
    assert "undo that merge first" in chained.value.message()
