"""RNIV status machine and attributes: transitions and the impossibility of forbidden states."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import RuleViolation
from app.domain.status import Attribute, Event, IdentityState, Status


def test_the_two_facts_give_the_four_statuses() -> None:
    state = IdentityState()
    assert state.status is Status.PROV
    recup, _ = state.insi_retrieved()
    assert recup.status is Status.RECUP
    qual, events = recup.document_checked(high_trust=True)
    assert qual.status is Status.QUAL and events == [Event.STATUS_CHANGED]
    vali, _ = state.document_checked(high_trust=True)
    assert vali.status is Status.VALI
    assert vali.insi_retrieved()[0].status is Status.QUAL


def test_low_trust_document_changes_nothing() -> None:
    assert IdentityState().document_checked(high_trust=False) == (IdentityState(), [])


def test_hand_edit_of_strict_trait_demotes_and_deactivates_ins() -> None:
    qual = IdentityState.of(Status.QUAL)
    vali, events = qual.strict_trait_edited()
    assert vali.status is Status.VALI
    assert Event.INS_DEACTIVATED in events
    prov, _ = IdentityState.of(Status.RECUP).strict_trait_edited()
    assert prov.status is Status.PROV


def test_document_withdrawal() -> None:
    qual = IdentityState.of(Status.QUAL)
    assert qual.document_withdrawn(other_valid_document=True)[0].status is Status.QUAL
    assert qual.document_withdrawn(other_valid_document=False)[0].status is Status.RECUP


@pytest.mark.parametrize("attribute", [Attribute.DOUT, Attribute.FICT])
def test_doubtful_or_fictitious_forces_prov_and_forbids_insi(attribute: Attribute) -> None:
    state, events = IdentityState.of(Status.QUAL).attribute_set(attribute)
    assert state.status is Status.PROV
    assert Event.INS_DEACTIVATED in events and Event.DOCUMENTS_SET_ASIDE in events
    with pytest.raises(RuleViolation) as info:
        state.insi_retrieved()
    assert info.value.code == "insi-forbidden-attribute"
    with pytest.raises(RuleViolation):
        state.document_checked(high_trust=True)


def test_attribute_combinations() -> None:
    dout, _ = IdentityState().attribute_set(Attribute.DOUT)
    both, _ = dout.attribute_set(Attribute.HOMA)
    assert both.attributes == {Attribute.DOUT, Attribute.HOMA}
    with pytest.raises(RuleViolation):
        dout.attribute_set(Attribute.FICT)
    fict, _ = IdentityState().attribute_set(Attribute.FICT)
    with pytest.raises(RuleViolation):
        fict.attribute_set(Attribute.HOMA)
    homa, _ = IdentityState.of(Status.QUAL).attribute_set(Attribute.HOMA)
    assert homa.status is Status.QUAL


def test_forbidden_states_cannot_be_built() -> None:
    with pytest.raises(RuleViolation):
        IdentityState(insi=True, document=True, attributes=frozenset({Attribute.DOUT}))
    with pytest.raises(RuleViolation):
        IdentityState.of(Status.VALI, [Attribute.FICT])
    with pytest.raises(RuleViolation):
        IdentityState.of(Status.PROV, [Attribute.DOUT, Attribute.FICT])


def test_removing_a_blocking_attribute_leaves_prov() -> None:
    dout, _ = IdentityState.of(Status.QUAL).attribute_set(Attribute.DOUT)
    cleared, events = dout.attribute_removed(Attribute.DOUT)
    assert cleared.status is Status.PROV and cleared.attributes == frozenset()
    assert events == [Event.ATTRIBUTE_REMOVED]


OPERATIONS = st.sampled_from(
    ["insi", "doc", "weak_doc", "edit", "withdraw_last", "withdraw_other", "lost",
     "set_DOUT", "set_FICT", "set_HOMA", "del_DOUT", "del_FICT", "del_HOMA"]
)


def _apply(state: IdentityState, op: str) -> IdentityState:
    if op == "insi":
        return state.insi_retrieved()[0]
    if op in ("doc", "weak_doc"):
        return state.document_checked(high_trust=op == "doc")[0]
    if op == "edit":
        return state.strict_trait_edited()[0]
    if op == "lost":
        return state.insi_lost()[0]
    if op.startswith("withdraw"):
        return state.document_withdrawn(other_valid_document=op.endswith("other"))[0]
    verb, code = op.split("_")
    if verb == "set":
        return state.attribute_set(Attribute(code))[0]
    return state.attribute_removed(Attribute(code))[0]


@given(st.lists(OPERATIONS, max_size=30))
def test_no_sequence_of_operations_reaches_a_forbidden_state(ops: list[str]) -> None:
    state = IdentityState()
    for op in ops:
        try:
            state = _apply(state, op)
        except RuleViolation:
            continue
        assert not (state.blocked and state.status is not Status.PROV)
        assert not {Attribute.DOUT, Attribute.FICT} <= state.attributes
        assert not (Attribute.FICT in state.attributes and len(state.attributes) > 1)
        assert state.ins_transmissible == (state.status is Status.QUAL)
        assert state.status is Status.QUAL or not state.ins_transmissible
