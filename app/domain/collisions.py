"""Collisions: one identity that may cover two persons (COLP / COLV, PAM FR table 0445, ins-rniv §6).

A collision is worse than a duplicate: two persons' care is recorded under one identity, and with
an INS, under one person's INS. The cell flags it (``potential_collision`` worklist item), checks
the documents and the INS with INSi, then resolves it with a reason:

- ``not_a_collision``: one person after all; nothing changes;
- ``demote``: the traits cannot be trusted any more: both facts drop (PROV, RNIV EXI SI 07), the
  standing document checks are set aside and the INS goes to history;
- ``set_aside_ins``: the traits are the right person's but the INS is another's: only the INS goes
  to history, the status loses the INSi fact (QUAL -> VALI, RECUP -> PROV);
- ``split``: the second person gets an identity of their own (PROV, from traits the cell types),
  linked to the first (PAM FR A24).
"""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import RuleViolation
from app.domain.identity import Identity
from app.domain.messages import register
from app.domain.status import Event, IdentityState, Status

register(
    "collision-action-unknown",
    "Unknown collision resolution {value}: use not_a_collision, demote, set_aside_ins or split.",
    "Résolution de collision inconnue {value} : utilisez not_a_collision, demote, set_aside_ins ou split.",
)
register(
    "collision-nothing-to-demote",
    "Identity {ident} is already provisional (PROV) without an INS: there is nothing to demote.",
    "L'identité {ident} est déjà provisoire (PROV) sans INS : il n'y a rien à rétrograder.",
)
register(
    "collision-no-ins",
    "Identity {ident} holds no active INS: there is no INS to set aside.",
    "L'identité {ident} ne porte pas d'INS actif : il n'y a pas d'INS à mettre à l'écart.",
)
register(
    "collision-split-traits",
    "A split creates the second person's identity: give their traits.",
    "Une séparation crée l'identité de la seconde personne : saisissez ses traits.",
)


class CollisionAction(StrEnum):
    """How the cell resolves a potential collision."""

    NOT_A_COLLISION = "not_a_collision"
    DEMOTE = "demote"
    SET_ASIDE_INS = "set_aside_ins"
    SPLIT = "split"

    @classmethod
    def parse(cls, value: str) -> CollisionAction:
        """The action, or a RuleViolation naming the allowed ones."""
        try:
            return cls(value)
        except ValueError:
            raise RuleViolation("collision-action-unknown", field="action", value=value[:30]) from None


def demoted(identity: Identity) -> tuple[IdentityState, list[Event]]:
    """COLP demotion: the traits may be two persons', so neither the INSi fact nor the document
    checks hold (RNIV EXI SI 07): PROV, the INS to history, the document checks set aside."""
    if identity.status is Status.PROV and identity.active_ins is None:
        raise RuleViolation("collision-nothing-to-demote", field="action", rule="RNIV EXI SI 07",
                            ident=identity.id)
    state, events = identity.state.insi_lost()
    if state.document:
        state, more = state.document_withdrawn(other_valid_document=False)
        events = [*events, *(e for e in more if e not in events), Event.DOCUMENTS_SET_ASIDE]
    return state, events


def ins_set_aside(identity: Identity) -> tuple[IdentityState, list[Event]]:
    """The INS is another person's: it goes to history and the INSi fact drops (RNIV EXI SI 07;
    QUAL -> VALI, RECUP -> PROV); the document checks of these traits stay."""
    if identity.active_ins is None:
        raise RuleViolation("collision-no-ins", field="action", rule="ins-rniv §6", ident=identity.id)
    return identity.state.insi_lost()
