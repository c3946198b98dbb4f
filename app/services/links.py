"""Link two identities without merging them, and undo a link (PAM FR A24 / A37, ins-rniv §6).

One function, one commit. A link (``link_identities``; HL7 A24 through ``link_in``) keeps both
identities open with their own IPP, traits, status and INS and records who linked them, when and
why; both audit trails say it. Their duplicate pair, if any, becomes ``linked`` and its
``potential_duplicate`` item closes: the cell decided. Every subscriber that takes A24 receives
one (PID = the identity named first, second PID = the other, each in the subscriber's format),
written in the first identity's outbound stream after its earlier messages.

An unlink (``unlink_identities``; HL7 A37 through ``unlink_in``) ends the standing link, dismisses
their pair (the cell said they are apart: proposed again only if a strict trait changes) and
sends an A37 the same way.
"""

from __future__ import annotations

from app.db.links import LinkRecord
from app.domain.duplicates import PairStatus, ordered
from app.domain.identity import Identity, IdentityChange
from app.domain.links import check_link, check_unlink
from app.domain.messages import register_terms
from app.domain.roles import Role, require_any
from app.domain.worklist import ClosingEvent, duplicate_pair_outcome
from app.services.context import Actor, ServiceContext, UnitOfWork
from app.services.errors import MissingReason, NotFound
from app.services.matching import decide_pair
from app.services.worklists import close_items

__all__ = ["LinkRecord", "link_identities", "link_in", "links_of", "unlink_identities", "unlink_in"]

LINKERS = (Role.IDENTITOVIGILANCE, Role.INTEGRATION)
register_terms({"link": "liaison des identités", "unlink": "suppression du lien"}, parameter="why")
register_terms({"Link": "lien"}, parameter="what")


def link_identities(
    ctx: ServiceContext, actor: Actor, identity_id: int, other_id: int, *, reason: str | None
) -> LinkRecord:
    """Link two open identities (identitovigilance, or the HL7 integration); the link."""
    require_any(actor.roles, *LINKERS)
    text = required_reason(reason, "link")
    with ctx.unit_of_work(actor) as uow:
        identity, other = lock_pair(uow, identity_id, other_id)
        link = link_in(uow, identity, other, text, source="api")
        uow.commit()
    return link


def unlink_identities(
    ctx: ServiceContext, actor: Actor, identity_id: int, other_id: int, *, reason: str | None
) -> LinkRecord:
    """End the standing link of two identities (identitovigilance, or the HL7 integration)."""
    require_any(actor.roles, *LINKERS)
    text = required_reason(reason, "unlink")
    with ctx.unit_of_work(actor) as uow:
        identity, other = lock_pair(uow, identity_id, other_id)
        link = unlink_in(uow, identity, other, text)
        uow.commit()
    return link


def links_of(ctx: ServiceContext, actor: Actor, identity_id: int) -> list[LinkRecord]:
    """The links of an identity, standing and ended, newest first (identitovigilance, admission)."""
    require_any(actor.roles, Role.IDENTITOVIGILANCE, Role.ADMISSION)
    with ctx.reading() as reader:
        if reader.identities.get(identity_id) is None:
            raise NotFound(what="Identity", ident=identity_id)
        return reader.links.of_identity(identity_id)


def link_in(uow: UnitOfWork, identity: Identity, other: Identity, reason: str, *, source: str) -> LinkRecord:
    """Link inside an open unit of work, both identities locked; the new link."""
    low, high = ordered(identity.id, other.id)
    check_link(identity, other, linked=uow.links.standing(low, high) is not None)
    now = uow.now()
    link_id = uow.links.add(low, high, at=now, by=uow.actor.subject, reason=reason, source=source)
    _settle_pair(uow, identity, other, PairStatus.LINKED, reason)
    for one, two in ((identity, other), (other, identity)):
        uow.audit("identity.linked", one.id, None, {"linked": two.id, "link": link_id, "source": source},
                  reason, full=True)
    uow.changed(IdentityChange(identity, identity, "linked", uow.actor, {"linked": other}))  # an A24
    record = uow.links.standing(low, high)
    assert record is not None
    return record


def unlink_in(uow: UnitOfWork, identity: Identity, other: Identity, reason: str) -> LinkRecord:
    """Unlink inside an open unit of work, both identities locked; the ended link."""
    low, high = ordered(identity.id, other.id)
    link = uow.links.standing(low, high)
    check_unlink(identity, other, linked=link is not None)
    assert link is not None
    now = uow.now()
    uow.links.ended(link.id, at=now, by=uow.actor.subject, reason=reason)
    _settle_pair(uow, identity, other, PairStatus.DISMISSED, reason)
    for one, two in ((identity, other), (other, identity)):
        uow.audit("identity.unlinked", one.id, None, {"unlinked": two.id, "link": link.id}, reason, full=True)
    uow.changed(IdentityChange(identity, identity, "unlinked", uow.actor, {"linked": other}))  # an A37
    return next(r for r in uow.links.of_identity(identity.id) if r.id == link.id)


def _settle_pair(uow: UnitOfWork, a: Identity, b: Identity, status: PairStatus, reason: str) -> None:
    """The duplicate pair of the two (if any) takes the cell's decision; its item closes on a link."""
    key = ordered(a.id, b.id)
    pair = uow.duplicates.pairs_between([key]).get(key)
    if pair is None or (status is PairStatus.DISMISSED and pair.status != PairStatus.LINKED.value):
        return
    decide_pair(uow, pair.id, a, b, status, reason)
    if status is PairStatus.LINKED:
        close_items(uow, pair.high_id, ClosingEvent.DUPLICATE_LINKED, outcome=duplicate_pair_outcome(pair.id))


def lock_pair(uow: UnitOfWork, identity_id: int, other_id: int, *, field: str = "other_id"
              ) -> tuple[Identity, Identity]:
    """Load and lock two identities in id order (NotFound names ``field`` for the other one)."""
    found = {i.id: i for i in uow.identities.get_many(sorted({identity_id, other_id}), for_update=True)}
    if identity_id not in found:
        raise NotFound(what="Identity", ident=identity_id)
    if other_id not in found:
        raise NotFound(what="Identity", ident=other_id, field=field)
    return found[identity_id], found[other_id]


def required_reason(reason: str | None, why: str) -> str:
    """The reason, trimmed; MissingReason when there is none."""
    if not (reason and reason.strip()):
        raise MissingReason(field="reason", why=why)
    return reason.strip()
