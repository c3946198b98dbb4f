"""Merge two identities of one person, and undo a merge (ins-rniv §6). One function, one commit.

A merge (``merge_identities``; HL7 A40 through ``merge_in``) closes the absorbed identity into the
survivor, in one transaction:

- the rules of ``app.domain.merges`` (DOUT/FICT settled first, not two INS, survivor the more
  reliable) are checked on both identities, locked in id order;
- the absorbed identity becomes inactive, ``merged_into`` the survivor; its active INS goes to its
  history (one active matricule per active identity); its IPP stays found by an IPP search, and
  its documents and history stay readable (``GET /identities/{id}/merges`` from the survivor);
- its duplicate pair with the survivor is ``merged``; its other open pairs are dropped (the
  survivor is what the cell works on), its standing links end, and every open worklist item of
  the absorbed identity closes;
- its undelivered outbound messages join the survivor's streams, then the A40 (PID = survivor,
  MRG-1 = absorbed IPP) is written after them: every subscriber, INS-ready or legacy, receives it
  in order with both identities' other messages;
- a merge row records who, when, why and what an unmerge needs; both identities' audit trails
  say it.

An unmerge (``unmerge_identity``) brings the absorbed identity back as it was at the merge (its
traits and status were never changed: a closed identity cannot be), with its INS active again
unless another identity holds it now; the survivor keeps what changed on it since. PAM FR has no
event that undoes an A40 (ITI-30): subscribers receive an A28 for the absorbed identity (created
again, under its own IPP) and an A31 for the survivor (docs/duplicates.md says what the receiving
applications' users then do). The pair of the two identities is dismissed: the cell said they
are two persons, so it is not proposed again unless a strict trait changes.
"""

from __future__ import annotations

from dataclasses import replace

from app.db.duplicates import DuplicatePair
from app.db.errors import StaleRow
from app.db.merges import MergeRecord
from app.domain.duplicates import PairStatus, ordered
from app.domain.identity import Identity
from app.domain.merges import check_merge, check_unmerge
from app.domain.messages import register
from app.domain.roles import Role, require_any
from app.domain.worklist import ClosingEvent, duplicate_pair_outcome
from app.services import identities
from app.services.context import Actor, IdentityChange, ServiceContext, UnitOfWork
from app.services.errors import NotFound, StaleVersion, VersionRequired
from app.services.links import lock_pair, required_reason
from app.services.matching import decide_pair
from app.services.worklists import close_items

CELL = (Role.IDENTITOVIGILANCE,)
register(
    "unmerge-no-record",
    "Identity {ident} was merged into identity {survivor} before merges were recorded (an A40 received by "
    "an earlier version): it cannot be undone here. Create the person's identity again if needed, and "
    "dismiss or link the pair.",
    "L'identité {ident} a été fusionnée dans l'identité {survivor} avant l'enregistrement des fusions (A40 "
    "reçu par une version antérieure) : elle ne peut pas être défusionnée ici. Recréez si besoin "
    "l'identité de la personne, puis écartez ou liez la paire.",
)


def prior_identifier(identity: Identity) -> dict[str, str]:
    """The identifier an A40/A47 names in MRG-1, with its authority when it is not Identito's."""
    details = {"prior_ipp": identity.ipp}
    if not identity.ipp_authority.own:
        details["prior_ipp_authority"] = identity.ipp_authority.text()
    return details


def merge_identities(
    ctx: ServiceContext, actor: Actor, survivor_id: int, absorbed_id: int, *, reason: str | None,
    survivor_version: int | None, absorbed_version: int | None,
) -> Identity:
    """Merge ``absorbed_id`` into ``survivor_id`` (identitovigilance; both versions as read)."""
    require_any(actor.roles, *CELL)
    text = required_reason(reason, "merge")
    if survivor_version is None:
        raise VersionRequired()
    if absorbed_version is None:
        raise VersionRequired(field="absorbed_version")
    with ctx.unit_of_work(actor) as uow:
        survivor, absorbed = lock_pair(uow, survivor_id, absorbed_id, field="absorbed_id")
        check_merge(survivor, absorbed)  # a closed identity says so before its version does
        identities.check_version(survivor, survivor_version)
        if absorbed.version != absorbed_version:
            raise StaleVersion(field="absorbed_version", current=absorbed.version)
        after = merge_in(uow, survivor, absorbed, text, source="api")
        uow.commit()
    return after


def merge_in(
    uow: UnitOfWork, survivor: Identity, absorbed: Identity, reason: str, *, source: str
) -> Identity:
    """Merge inside an open unit of work, both identities locked; the survivor after the merge."""
    check_merge(survivor, absorbed)
    now = uow.now()
    ins_id = uow.identities.active_ins_id(absorbed.id)
    if ins_id is not None:
        uow.identities.deactivate_ins(absorbed.id, now)
    try:
        uow.identities.save(replace(absorbed, active=False, merged_into=survivor.id),
                            expected_version=absorbed.version, now=now)
    except StaleRow:
        raise StaleVersion(field="absorbed_version", current=absorbed.version + 1) from None
    pair = _settle_pairs(uow, survivor, absorbed, reason)
    _end_links(uow, absorbed, reason)
    close_items(uow, absorbed.id, ClosingEvent.IDENTITY_MERGED)
    uow.duplicates.replace_keys([absorbed.id], {})  # a closed identity is nobody's candidate
    uow.outbox.join_stream(absorbed.id, survivor.id)
    merge_id = uow.merges.add(survivor_id=survivor.id, absorbed_id=absorbed.id, at=now, by=uow.actor.subject,
                              reason=reason, source=source, ins_id=ins_id,
                              pair_id=pair.id if pair is not None else None)
    uow.audit("identity.merged", absorbed.id, {"active": True},
              {"active": False, "merged_into": survivor.id, "merge": merge_id}, reason)
    uow.audit("identity.absorbed", survivor.id, None, {"absorbed": absorbed.id, "merge": merge_id}, reason,
              full=True)
    return identities.store(uow, survivor, survivor, "merged", **prior_identifier(absorbed))


def _settle_pairs(
    uow: UnitOfWork, survivor: Identity, absorbed: Identity, reason: str
) -> DuplicatePair | None:
    """The pair of the two is merged (its item closed); the absorbed identity's other open pairs go."""
    key = ordered(survivor.id, absorbed.id)
    pair = uow.duplicates.pairs_between([key]).get(key)
    if pair is not None:
        decide_pair(uow, pair.id, survivor, absorbed, PairStatus.MERGED, reason)
        close_items(uow, pair.high_id, ClosingEvent.DUPLICATE_MERGED, outcome=duplicate_pair_outcome(pair.id))
    others = [p for p in uow.duplicates.open_pairs_of([absorbed.id]) if p.key != key]
    for other in others:
        close_items(uow, other.high_id, ClosingEvent.IDENTITY_MERGED,
                    outcome=duplicate_pair_outcome(other.id))
    uow.duplicates.drop_pairs([p.id for p in others])
    return pair


def _end_links(uow: UnitOfWork, absorbed: Identity, reason: str) -> None:
    """A closed identity is linked to nothing: its standing links end with the merge (the A40 tells
    the subscribers; no A37 of its own). Audited on both sides."""
    for link in uow.links.of_identity(absorbed.id):
        if link.unlinked_at is None:
            uow.links.ended(link.id, at=uow.now(), by=uow.actor.subject, reason=reason)
            partner = link.other(absorbed.id)
            for one, other in ((absorbed.id, partner), (partner, absorbed.id)):
                uow.audit("identity.unlinked", one, None,
                          {"unlinked": other, "link": link.id, "why": "merged"}, reason, full=True)


def unmerge_identity(ctx: ServiceContext, actor: Actor, absorbed_id: int, *, reason: str | None) -> Identity:
    """Bring a merged identity back as it was at its merge (identitovigilance); the restored identity."""
    require_any(actor.roles, *CELL)
    text = required_reason(reason, "unmerge")
    with ctx.unit_of_work(actor) as uow:
        absorbed = uow.identities.get(absorbed_id)
        if absorbed is None:
            raise NotFound(what="Identity", ident=absorbed_id)
        check_unmerge(absorbed, None)
        survivor_id = absorbed.merged_into
        assert survivor_id is not None
        absorbed, survivor = lock_pair(uow, absorbed_id, survivor_id, field="identity_id")
        check_unmerge(absorbed, survivor)
        merge = uow.merges.standing_for(absorbed_id)
        if merge is None or merge.survivor_id != survivor_id:
            raise NotFound("unmerge-no-record", field="identity_id", ident=absorbed_id, survivor=survivor_id)
        restored = _restore(uow, absorbed, survivor, merge, text)
        uow.commit()
    return restored


def _restore(
    uow: UnitOfWork, absorbed: Identity, survivor: Identity, merge: MergeRecord, reason: str
) -> Identity:
    now = uow.now()
    ins_back = merge.ins_id is None or uow.identities.reactivate_ins(absorbed.id, merge.ins_id)
    state = absorbed.state
    if not ins_back and state.insi:  # its INS went to another identity since: no INSi fact without it
        state, _ = state.insi_lost()
    opened = replace(absorbed, active=True, merged_into=None, state=state)
    try:
        version = uow.identities.save(opened, expected_version=absorbed.version, now=now)
    except StaleRow:
        raise StaleVersion(current=absorbed.version + 1) from None
    restored = replace(opened, version=version, ins_records=uow.identities.ins_records(absorbed.id))
    uow.merges.undone(merge.id, at=now, by=uow.actor.subject, reason=reason)
    key = ordered(survivor.id, absorbed.id)
    pair = uow.duplicates.pairs_between([key]).get(key)
    if pair is not None:  # two persons, said the cell: proposed again only if a strict trait changes
        decide_pair(uow, pair.id, survivor, restored, PairStatus.DISMISSED, reason)
    uow.audit("identity.unmerged", absorbed.id, {"active": False, "merged_into": survivor.id},
              {"active": True, "merged_into": None, "merge": merge.id, "ins_restored": ins_back}, reason,
              full=True)
    uow.audit("identity.unabsorbed", survivor.id, None, {"restored": absorbed.id, "merge": merge.id}, reason,
              full=True)
    uow.changed(IdentityChange(restored, None, "unmerged", uow.actor))  # an A28: subscribers create it again
    identities.store(uow, survivor, survivor, "unmerge_survivor")  # an A31: the survivor as it is
    return restored


def merges_of(ctx: ServiceContext, actor: Actor, identity_id: int) -> list[MergeRecord]:
    """The merges an identity took part in, newest first (identitovigilance and admission)."""
    require_any(actor.roles, Role.IDENTITOVIGILANCE, Role.ADMISSION)
    with ctx.reading() as reader:
        if reader.identities.get(identity_id) is None:
            raise NotFound(what="Identity", ident=identity_id)
        return reader.merges.of_identity(identity_id)
