"""MSSanté sending rules (app/domain/mssante.py): INS only for QUAL, trust space, patient mailbox."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.ins import OID_NIR, Ins
from app.domain.mssante import (
    InsFlag,
    MssPolicy,
    check_recipients,
    in_trust_space,
    patient_indexing,
    patient_mailbox,
)
from app.domain.status import Attribute, IdentityState, Status
from app.domain.xds import DEFAULT_DOCUMENT_KINDS, document_codes
from tests.strategies_ins import matricules

INS = Ins.of("277010115400329", OID_NIR)
POLICY = MssPolicy.of(["mssante.fr", "@CH-Exemple.fr "])
_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)


def test_policy_domains_are_normalised() -> None:
    assert POLICY.trust_domains == ("ch-exemple.fr", "mssante.fr")
    assert POLICY.trust_space_only and not POLICY.unqualified_exemption


def test_a_qual_identity_is_indexed_on_its_ins() -> None:
    indexing = patient_indexing(IdentityState.of(Status.QUAL), INS, POLICY)
    assert indexing.ins == INS and indexing.flag is InsFlag.YES


@pytest.mark.parametrize("status", [Status.PROV, Status.VALI, Status.RECUP])
def test_a_non_qual_identity_is_refused_without_the_exemption(status: Status) -> None:
    with pytest.raises(RuleViolation) as caught:
        patient_indexing(IdentityState.of(status), INS if status is Status.RECUP else None, POLICY)
    assert caught.value.code == "mss-ins-not-qualified" and caught.value.rule == "RNIV EXI SI 08"
    french = caught.value.message("fr")
    assert f"statut {status.value}" in french and "dérogation MSSanté" in french
    assert INS.matricule not in french


@pytest.mark.parametrize("status", [Status.PROV, Status.VALI, Status.RECUP])
def test_the_exemption_sends_a_non_qual_identity_without_its_ins(status: Status) -> None:
    policy = MssPolicy.of(["mssante.fr"], unqualified_exemption=True)
    indexing = patient_indexing(IdentityState.of(status), INS, policy)
    assert indexing.ins is None and indexing.flag is InsFlag.NO


def test_a_doubtful_identity_never_gets_its_ins_sent() -> None:
    policy = MssPolicy.of(["mssante.fr"], unqualified_exemption=True)
    state = IdentityState(attributes=frozenset({Attribute.DOUT}))
    assert patient_indexing(state, None, policy).ins is None


@given(st.sampled_from(list(Status)), st.booleans(), st.booleans())
def test_the_ins_is_sent_only_for_qual(status: Status, has_ins: bool, exemption: bool) -> None:
    policy = MssPolicy.of(["mssante.fr"], unqualified_exemption=exemption)
    try:
        indexing = patient_indexing(IdentityState.of(status), INS if has_ins else None, policy)
    except RuleViolation:
        assert not (status is Status.QUAL and has_ins) and not exemption
        return
    assert (indexing.ins is not None) == (status is Status.QUAL and has_ins)
    assert indexing.flag is (InsFlag.YES if indexing.ins else InsFlag.NO)


def test_recipients_inside_the_trust_space_pass_trimmed_and_deduplicated() -> None:
    kept = check_recipients(
        [" dr.house@medecin.mssante.fr", "Dr.House@medecin.mssante.fr", "secretariat@ch-exemple.fr"], POLICY
    )
    assert kept == ("dr.house@medecin.mssante.fr", "secretariat@ch-exemple.fr")


def test_a_mixed_list_is_refused_naming_the_foreign_domains_only() -> None:
    addresses = [
        "dr.house@medecin.mssante.fr",
        "jean.dupont@gmail.com",
        "x@mssante.fr.evil.com",
        "y@notmssante.fr",
    ]
    with pytest.raises(RuleViolation) as caught:
        check_recipients(addresses, POLICY)
    french = caught.value.message("fr")
    assert "hors de l'espace de confiance MSSanté (gmail.com, mssante.fr.evil.com, notmssante.fr)" in french
    assert "jean.dupont" not in french and "dr.house" not in french
    assert "domaines de confiance : ch-exemple.fr, mssante.fr" in french


def test_foreign_recipients_pass_when_the_policy_is_off() -> None:
    policy = MssPolicy.of(["mssante.fr"], trust_space_only=False)
    assert check_recipients(["a@gmail.com"], policy) == ("a@gmail.com",)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "no-at-sign",
        "a@b",
        "a@@mssante.fr",
        "a b@mssante.fr",
        "<a@mssante.fr>",
        "a@mssante.fr\r\nBcc: x@evil.com",
        "a@-x.mssante.fr",
    ],
)
def test_malformed_addresses_are_refused_by_position(bad: str) -> None:
    with pytest.raises(InvalidTrait) as caught:
        check_recipients(["ok@medecin.mssante.fr", bad], POLICY)
    assert caught.value.message("fr") == (
        "Le destinataire n° 2 n'est pas une adresse de messagerie (attendu : nom@domaine)."
    )


def test_no_recipient_and_too_many_are_refused() -> None:
    with pytest.raises(InvalidTrait, match="at least one"):
        check_recipients([], POLICY)
    with pytest.raises(InvalidTrait, match="At most 100"):
        check_recipients([f"a{i}@mssante.fr" for i in range(101)], POLICY)


@given(_LOCAL, st.lists(_LABEL, min_size=0, max_size=3), st.sampled_from(["mssante.fr", "ch-exemple.fr"]))
def test_any_address_at_a_trusted_domain_or_subdomain_passes(
    local: str, labels: list[str], trusted: str
) -> None:
    domain = ".".join([*labels, trusted])
    assert in_trust_space(domain, POLICY.trust_domains)
    assert check_recipients([f"{local}@{domain}"], POLICY) == (f"{local}@{domain}",)


@given(_LOCAL, _LABEL, st.sampled_from(["com", "org", "fr"]))
def test_an_address_outside_is_refused_and_its_local_part_never_shown(
    local: str, label: str, tld: str
) -> None:
    domain = f"{label}x.{tld}"
    if in_trust_space(domain, POLICY.trust_domains):
        return
    with pytest.raises(RuleViolation) as caught:
        check_recipients([f"{local}@{domain}"], POLICY)
    assert f"({domain})" in caught.value.message("fr")


@given(matricules(), st.sampled_from(list(Status)))
def test_the_patient_mailbox_is_derived_from_a_qualified_ins_only(matricule: str, status: Status) -> None:
    ins = Ins.of(matricule, OID_NIR)
    state = IdentityState.of(status)
    if status is Status.QUAL:
        mailbox = patient_mailbox(state, ins)
        assert mailbox == f"{matricule}@patient.mssante.fr"
        assert check_recipients([mailbox], POLICY) == (mailbox,)
        return
    with pytest.raises(RuleViolation) as caught:
        patient_mailbox(state, ins)
    assert matricule not in caught.value.message("fr")
    assert f"statut {status.value}" in caught.value.message("fr")


def test_a_qual_identity_without_active_ins_has_no_patient_mailbox() -> None:
    with pytest.raises(RuleViolation):
        patient_mailbox(IdentityState.of(Status.QUAL), None)


def test_an_unknown_document_kind_lists_the_configured_ones() -> None:
    assert document_codes("discharge-letter", DEFAULT_DOCUMENT_KINDS).type.code == "11490-0"
    with pytest.raises(InvalidTrait) as caught:
        document_codes("letter", DEFAULT_DOCUMENT_KINDS)
    assert "discharge-letter" in caught.value.message("fr")
