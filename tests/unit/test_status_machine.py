"""RNIV status machine and attributes: transitions and the impossibility of forbidden states."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import MissingReason, RuleViolation
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
    prov, events = qual.strict_trait_edited(reason="typo on the name")
    assert prov.status is Status.PROV  # the document check was of the old traits (ins-rniv §3)
    assert Event.INS_DEACTIVATED in events and Event.DOCUMENTS_SET_ASIDE in events
    vali, _ = qual.strict_trait_edited(document_checked=True, reason="passport shown")
    assert vali.status is Status.VALI
    prov, _ = IdentityState.of(Status.RECUP).strict_trait_edited(reason="typo")
    assert prov.status is Status.PROV


def test_a_vali_identity_edited_without_a_document_is_prov_and_needs_a_reason() -> None:
    vali = IdentityState.of(Status.VALI)
    with pytest.raises(MissingReason):
        vali.strict_trait_edited()
    prov, events = vali.strict_trait_edited(reason="name corrected")
    assert prov.status is Status.PROV and events == [Event.STATUS_CHANGED, Event.DOCUMENTS_SET_ASIDE]
    assert IdentityState().strict_trait_edited() == (IdentityState(), [])  # PROV: no reason needed


_STATES = st.builds(
    IdentityState.of,
    st.sampled_from(list(Status)),
    st.sampled_from([(), (Attribute.HOMA,)]),
)


@given(state=_STATES, document=st.booleans(), reason=st.sampled_from([None, "", "  ", "motif"]))
def test_strict_trait_change_states_facts_about_the_new_traits(
    state: IdentityState, document: bool, reason: str | None
) -> None:
    """ins-rniv §3: after a strict-trait change, I is false and C is exactly "a document checked with it"."""
    if state.status is not Status.PROV and not (reason and reason.strip()):
        with pytest.raises(MissingReason):
            state.strict_trait_edited(document_checked=document, reason=reason)
        return
    new, events = state.strict_trait_edited(document_checked=document, reason=reason)
    assert not new.insi and new.document is document and new.attributes == state.attributes
    assert (Event.INS_DEACTIVATED in events) is state.insi
    assert (Event.DOCUMENTS_SET_ASIDE in events) is state.document
    assert (Event.STATUS_CHANGED in events) is (new.status is not state.status)


@given(blocking=st.sampled_from([Attribute.DOUT, Attribute.FICT]))
def test_strict_change_of_a_blocked_identity_takes_no_document(blocking: Attribute) -> None:
    blocked, _ = IdentityState().attribute_set(blocking)
    assert blocked.strict_trait_edited()[0].status is Status.PROV
    with pytest.raises(RuleViolation):
        blocked.strict_trait_edited(document_checked=True)


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
    ["insi", "doc", "weak_doc", "edit", "edit_with_doc", "withdraw_last", "withdraw_other", "lost",
     "set_DOUT", "set_FICT", "set_HOMA", "del_DOUT", "del_FICT", "del_HOMA"]
)


def _apply(state: IdentityState, op: str) -> IdentityState:
    if op == "insi":
        return state.insi_retrieved()[0]
    if op in ("doc", "weak_doc"):
        return state.document_checked(high_trust=op == "doc")[0]
    if op.startswith("edit"):
        return state.strict_trait_edited(document_checked=op.endswith("doc"), reason="motif")[0]
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
