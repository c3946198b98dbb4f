"""Collisions (COLP): flag an identity that may cover two persons, and resolve it with a reason.

Each function is one transaction. ``flag_collision`` opens the ``potential_collision`` item
(identitovigilance or admission); ``resolve_collision`` (identitovigilance) closes it and applies
the resolution of ``app.domain.collisions``, audited, with its outbound change in the same commit:
an A31 for ``demote`` and ``set_aside_ins`` (the INS withdrawn as ``""`` to the INS-ready
subscribers that had it), an A28 for the second person's identity and an A24 for ``split``,
nothing for ``not_a_collision``. The matching also opens the item when two identities share an
INS with traits that disagree (``app.services.matching``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.domain.collisions import CollisionAction, demoted, ins_set_aside
from app.domain.errors import RuleViolation
from app.domain.identity import Identity
from app.domain.messages import register_terms
from app.domain.roles import Role, require_any
from app.domain.status import Event
from app.domain.traits import build_traits
from app.domain.worklist import ClosingEvent, Hint, WorklistKind
from app.services import identities, links
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import NotFound
from app.services.worklists import close_items, open_item

FLAGGED = "flagged"
register_terms({"collision": "signalement de collision",
                "collision resolution": "traitement de la collision"}, parameter="why")
register_terms({"Potential collision": "collision potentielle"}, parameter="what")


@dataclass(frozen=True)
class Resolved:
    """The identity after the resolution, and the second person's identity after a split."""

    identity: Identity
    created: Identity | None = None


def flag_collision(ctx: ServiceContext, actor: Actor, identity_id: int, *, reason: str | None) -> int:
    """Flag an identity as possibly covering two persons (COLP); the open item's id."""
    require_any(actor.roles, Role.IDENTITOVIGILANCE, Role.ADMISSION)
    text = links.required_reason(reason, "collision")
    with ctx.unit_of_work(actor) as uow:
        identity = identities.load(uow, identity_id)
        item = open_item(uow, WorklistKind.POTENTIAL_COLLISION, identity.id, FLAGGED,
                         hint=Hint.REVIEW_COLLISION, details={"reason": text})
        uow.audit("collision.flagged", identity.id, None, {"item": item}, text, full=True)
        uow.commit()
    return item


def resolve_collision(
    ctx: ServiceContext, actor: Actor, identity_id: int, action: str, *, reason: str | None,
    traits: identities.TraitsInput | None = None,
) -> Resolved:
    """Resolve the identity's potential collision (identitovigilance): closes its item."""
    require_any(actor.roles, Role.IDENTITOVIGILANCE)
    chosen = CollisionAction.parse(action)
    text = links.required_reason(reason, "collision resolution")
    if chosen is CollisionAction.SPLIT and traits is None:
        raise RuleViolation("collision-split-traits", field="traits", rule="ins-rniv §6")
    with ctx.unit_of_work(actor) as uow:
        identity = identities.load(uow, identity_id)
        if not close_items(uow, identity.id, ClosingEvent.COLLISION_RESOLVED):
            raise NotFound(what="Potential collision", ident=identity_id)
        outcome = _apply(ctx, uow, identity, chosen, text, traits)
        uow.audit("collision.resolved", identity.id, None,
                  {"action": chosen.value, "created": outcome.created.id if outcome.created else None},
                  text, full=True)
        uow.commit()
    return outcome


def _apply(ctx: ServiceContext, uow: UnitOfWork, identity: Identity, action: CollisionAction, reason: str,
           traits: identities.TraitsInput | None) -> Resolved:
    if action is CollisionAction.DEMOTE:
        return Resolved(_demote(uow, identity, reason))
    if action is CollisionAction.SET_ASIDE_INS:
        return Resolved(_set_aside_ins(uow, identity))
    if action is CollisionAction.SPLIT:
        assert traits is not None
        return Resolved(identity, _split(ctx, uow, identity, traits, reason))
    return Resolved(identity)


def _demote(uow: UnitOfWork, identity: Identity, reason: str) -> Identity:
    state, events = demoted(identity)
    now = uow.now()
    if identity.active_ins is not None:
        uow.identities.deactivate_ins(identity.id, now)
    if Event.DOCUMENTS_SET_ASIDE in events:
        uow.documents.set_aside(identity.id, uow.actor.subject, f"collision: {reason}"[:200], now)
    return identities.store(uow, identity, replace(identity, state=state), "collision_demoted")


def _set_aside_ins(uow: UnitOfWork, identity: Identity) -> Identity:
    state, _ = ins_set_aside(identity)
    uow.identities.deactivate_ins(identity.id, uow.now())
    return identities.store(uow, identity, replace(identity, state=state), "collision_ins_set_aside")


def _split(ctx: ServiceContext, uow: UnitOfWork, identity: Identity, data: identities.TraitsInput,
           reason: str) -> Identity:
    """The second person's identity (PROV), created and linked to the first (an A28 then an A24)."""
    traits = build_traits(
        birth_name=data.birth_name, first_names=data.first_names, first_name=data.first_name,
        birth_date=data.birth_date, sex=data.sex, birth_place_code=data.birth_place_code,
        used_name=data.used_name, used_first_name=data.used_first_name, today=ctx.today(),
        known_birth_places=ctx.birth_place_codes,
    )
    created = identities.create_in(ctx, uow, traits, ipp=None, source="SM")
    links.link_in(uow, identity, created, reason, source="split")
    return created
