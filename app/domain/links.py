"""Linking two identities without merging them (PAM FR A24 link / A37 unlink, ins-rniv §6).

A link says "these two identities are related and must be read together" while both stay open
with their own IPP, traits, status and INS: two identities of one person that cannot be merged
yet (two active INS to settle with INSi, a DOUT identity to confirm first), or the two identities
of a collision once it is split (the second person created from the first's identity). Downstream
applications learn it through an ADT A24 (both PIDs) and forget it through an A37 (pam-fr.md).
"""

from __future__ import annotations

from app.domain.errors import RuleViolation
from app.domain.identity import Identity
from app.domain.messages import register

register(
    "link-same-identity",
    "An identity cannot be linked with itself ({ident}).",
    "Une identité ne peut pas être liée à elle-même ({ident}).",
)
register(
    "link-exists",
    "Identities {ident} and {other} are already linked.",
    "Les identités {ident} et {other} sont déjà liées.",
)
register(
    "link-missing",
    "Identities {ident} and {other} are not linked: there is nothing to unlink.",
    "Les identités {ident} et {other} ne sont pas liées : il n'y a rien à délier.",
)


def check_link(identity: Identity, other: Identity, *, linked: bool) -> None:
    """Two identities may be linked when they are two, both open, and not linked yet (ins-rniv §6,
    PAM FR A24): a closed (merged) identity is read through its survivor, never linked."""
    _check_two_open(identity, other)
    if linked:
        raise RuleViolation("link-exists", field="other_id", rule="PAM FR A24", ident=identity.id,
                            other=other.id)


def check_unlink(identity: Identity, other: Identity, *, linked: bool) -> None:
    """An unlink undoes a standing link of two open identities (ins-rniv §6, PAM FR A37)."""
    _check_two_open(identity, other)
    if not linked:
        raise RuleViolation("link-missing", field="other_id", rule="PAM FR A37", ident=identity.id,
                            other=other.id)


def _check_two_open(identity: Identity, other: Identity) -> None:
    """Not an identity with itself; both open (a merged identity is closed, ins-rniv §6)."""
    if identity.id == other.id:
        raise RuleViolation("link-same-identity", field="other_id", rule="ins-rniv §6", ident=identity.id)
    identity.check_open(field="identity_id")
    other.check_open(field="other_id")
