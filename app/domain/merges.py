"""Merging the two identities of one person, and undoing it (ins-rniv §6).

A merge keeps one identity, the *survivor*, and closes the other, the *absorbed* one: inactive,
``merged_into`` the survivor (DESA in the PAM FR table 0445), its IPP still found as an old
identifier that points at the survivor. The rules below decide whether two identities may be
merged; the use case (``app.services.merges``) applies them, and HL7 A40 goes through it too.

The survivor must be at least as reliable as the absorbed identity: its traits, status and INS are
the ones that stay, and a merge never raises a status (only INSi and a high-trust document do,
RNIV EXI SI 07). When the identity the cell wants to keep is the less reliable one, the message
says to merge the other way round: the kept identity's IPP matters less than its reliability,
and the absorbed identity's IPP keeps pointing at the survivor.
"""

from __future__ import annotations

from app.domain.errors import RuleViolation
from app.domain.identity import Identity
from app.domain.messages import register
from app.domain.status import BLOCKING_ATTRIBUTES, Status

register(
    "merge-same-identity",
    "An identity cannot be merged into itself ({ident}).",
    "Une identité ne peut pas être fusionnée avec elle-même ({ident}).",
)
register(
    "merge-blocked-attribute",
    "Identity {ident} carries the attribute {attribute}: settle it first (confirm the identity and "
    "remove {attribute}), then merge.",
    "L'identité {ident} porte l'attribut {attribute} : levez-le d'abord (confirmez l'identité puis "
    "retirez {attribute}), puis fusionnez.",
)
register(
    "merge-two-ins",
    "Identities {survivor} and {absorbed} hold two different active INS: for the Assurance Maladie "
    "they are two persons. Check both INS with INSi and the identity documents; if one person uses "
    "two INS, or two persons share one identity, handle it as a collision, not a merge.",
    "Les identités {survivor} et {absorbed} portent deux INS actifs différents : pour l'Assurance "
    "Maladie, ce sont deux personnes. Vérifiez les deux INS par INSi et les justificatifs ; s'il "
    "s'agit d'une collision, traitez-la comme telle, sans fusion.",
)
register(
    "merge-survivor-less-reliable",
    "Identity {absorbed} ({absorbed_status}) is more reliable than identity {survivor} "
    "({survivor_status}) that would be kept: keep identity {absorbed} and merge identity {survivor} "
    "into it.",
    "L'identité {absorbed} ({absorbed_status}) est plus fiable que l'identité {survivor} "
    "({survivor_status}) qui serait conservée : conservez l'identité {absorbed} et fusionnez "
    "l'identité {survivor} dans celle-ci.",
)
register(
    "unmerge-not-merged",
    "Identity {ident} is not merged into another identity: there is nothing to undo.",
    "L'identité {ident} n'est pas fusionnée dans une autre identité : il n'y a rien à défaire.",
)
register(
    "unmerge-survivor-merged",
    "Identity {survivor}, into which identity {ident} was merged, was itself merged into identity "
    "{next}: undo that merge first.",
    "L'identité {survivor}, dans laquelle l'identité {ident} a été fusionnée, a elle-même été "
    "fusionnée dans l'identité {next} : défaites d'abord cette fusion.",
)

#: Reliability order of the statuses (ins-rniv §1): QUAL > VALI > RECUP > PROV.
RELIABILITY = {Status.PROV: 0, Status.RECUP: 1, Status.VALI: 2, Status.QUAL: 3}


def more_reliable(a: Status, b: Status) -> bool:
    """Whether status ``a`` is strictly more reliable than ``b`` (QUAL > VALI > RECUP > PROV)."""
    return RELIABILITY[a] > RELIABILITY[b]


def check_merge(survivor: Identity, absorbed: Identity) -> None:
    """Whether two open identities may be merged, the survivor kept (ins-rniv §6):

    - not an identity with itself;
    - neither DOUT nor FICT: a doubtful or fictitious identity is settled first (RNIV EXI SI 09);
    - not two different active INS: one INS per person (ins-rniv §6), so two INS name two persons
      unless INSi itself replaced one by the other (one in the other's history);
    - the survivor at least as reliable as the absorbed identity (the kept traits and status are
      the most reliable ones; a merge never raises a status, RNIV EXI SI 07).
    """
    if survivor.id == absorbed.id:
        raise RuleViolation("merge-same-identity", field="absorbed_id", rule="ins-rniv §6", ident=survivor.id)
    survivor.check_open(field="survivor_id")
    absorbed.check_open(field="absorbed_id")
    for identity, field in ((survivor, "survivor_id"), (absorbed, "absorbed_id")):
        blocking = sorted(identity.attributes & BLOCKING_ATTRIBUTES)
        if blocking:
            raise RuleViolation("merge-blocked-attribute", field=field, rule="RNIV EXI SI 09",
                                ident=identity.id, attribute=blocking[0].value)
    if two_persons_by_ins(survivor, absorbed):
        raise RuleViolation("merge-two-ins", field="absorbed_id", rule="ins-rniv §6",
                            survivor=survivor.id, absorbed=absorbed.id)
    if more_reliable(absorbed.status, survivor.status):
        raise RuleViolation("merge-survivor-less-reliable", field="absorbed_id", rule="RNIV EXI SI 07",
                            survivor=survivor.id, absorbed=absorbed.id,
                            survivor_status=survivor.status.value, absorbed_status=absorbed.status.value)


def two_persons_by_ins(a: Identity, b: Identity) -> bool:
    """Two different active INS, neither in the other's history: two persons (ins-rniv §6)."""
    ins_a, ins_b = a.active_ins, b.active_ins
    if ins_a is None or ins_b is None or ins_a.matricule == ins_b.matricule:
        return False
    history_a = {r.ins.matricule for r in a.ins_history}
    history_b = {r.ins.matricule for r in b.ins_history}
    return ins_b.matricule not in history_a and ins_a.matricule not in history_b


def check_unmerge(absorbed: Identity, survivor: Identity | None) -> None:
    """An unmerge brings back an absorbed identity whose survivor is still open (ins-rniv §6)."""
    if absorbed.active or absorbed.merged_into is None:
        raise RuleViolation("unmerge-not-merged", field="identity_id", rule="ins-rniv §6", ident=absorbed.id)
    if survivor is not None and not survivor.active:
        raise RuleViolation("unmerge-survivor-merged", field="identity_id", rule="ins-rniv §6",
                            ident=absorbed.id, survivor=survivor.id, next=survivor.merged_into)
