"""Collisions (COLP) on both engines: flagging, each resolution through the API (closing the item,
audited, with its outbound change), and the matching that opens an item for one INS, two persons."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.services import duplicates, identities, links, queries, worklists
from app.services.identities import TraitsInput
from tests.conftest import actor, auth
from tests.integration.hl7_support import MATRICULES, qualify, subscriber

DESK = actor("admission")
CELL = actor("identitovigilance", sub="ivg-1")
SECOND = {"birth_name": "MARTIN", "first_names": "PAUL", "birth_date": "1984-02-03", "sex": "M",
          "birth_place_code": "75056"}


def _identity(ctx, **raw: str):
    traits = {"birth_name": "DURAND", "first_names": "LUCIE", "birth_date": "1982-04-05", "sex": "F",
              "birth_place_code": "63113", **raw}
    return identities.create_identity(ctx, DESK, TraitsInput(**traits))


def _items(ctx, include_resolved: bool = False):
    return worklists.list_items(ctx, CELL, "potential_collision", include_resolved=include_resolved)


def _events(ctx, identity_id: int) -> list[tuple[str, dict]]:
    with Session(ctx.engine) as session:
        rows = session.execute(select(OutboxMessageRow).where(OutboxMessageRow.identity_id == identity_id)
                               .order_by(OutboxMessageRow.id)).scalars()
        return [(r.event, r.snapshot) for r in rows]


def _flagged(client, settings, ctx, qualified: bool = False, **raw: str):
    identity = _identity(ctx, **raw)
    if qualified:
        identity = qualify(ctx, identity.id)
    flagged = client.post(f"/identities/{identity.id}/collision", json={"reason": "deux patientes ?"},
                          headers=auth(settings, "admission"))
    assert flagged.status_code == 201, flagged.text
    return identity, flagged.json()["item_id"]


def _resolve(client, settings, identity_id: int, action: str, **extra):
    return client.post(f"/identities/{identity_id}/collision/resolve",
                       json={"action": action, "reason": "vérifié sur pièces", **extra},
                       headers=auth(settings, "identitovigilance", sub="ivg-1"))


def _history(ctx, identity_id: int) -> list[str]:
    return [e.action for e in queries.identity_history(ctx, CELL, identity_id, limit=100, offset=0)]


def test_flag_opens_one_item_and_not_a_collision_closes_it(client, settings, ctx) -> None:
    identity, item_id = _flagged(client, settings, ctx)
    no_reason = client.post(f"/identities/{identity.id}/collision", json={"reason": ""},
                            headers=auth(settings, "admission"))
    assert no_reason.status_code == 422
    [item] = _items(ctx)
    assert (item.id, item.identity_id, item.hint) == (item_id, identity.id, "hint-review-collision")
    # A PROV identity without INS has nothing to demote: refused, the item stays open.
    nothing = _resolve(client, settings, identity.id, "demote")
    assert nothing.status_code == 409 and nothing.json()["type"].endswith("collision-nothing-to-demote")
    assert _items(ctx) and "collision.flagged" in _history(ctx, identity.id)
    forbidden = client.post(f"/identities/{identity.id}/collision/resolve",
                            json={"action": "not_a_collision", "reason": "x"},
                            headers=auth(settings, "admission"))
    assert forbidden.status_code == 403
    done = _resolve(client, settings, identity.id, "not_a_collision")
    assert done.status_code == 200 and done.json()["identity"]["status"] == "PROV"
    assert not _items(ctx) and _items(ctx, include_resolved=True)[0].closing_event == "collision_resolved"
    assert "collision.resolved" in _history(ctx, identity.id)
    again = _resolve(client, settings, identity.id, "not_a_collision")
    assert again.status_code == 404  # no open potential collision any more


def test_demote_drops_both_facts_and_sets_the_ins_aside(client, settings, ctx) -> None:
    subscriber(ctx, "DPI", 1)
    identity, _ = _flagged(client, settings, ctx, qualified=True)
    demoted = _resolve(client, settings, identity.id, "demote")
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["identity"]["status"] == "PROV" and not _items(ctx)
    stored = identities.read_identity(ctx, identity.id)
    assert stored.active_ins is None and [r.ins.matricule for r in stored.ins_history] == [MATRICULES[0]]
    event, snapshot = _events(ctx, identity.id)[-1]
    assert event == "A31" and snapshot["status"] == "PROV"
    assert snapshot["withdrawn_ins"]["matricule"] == MATRICULES[0]  # sent as "" to INS-ready subscribers


def test_set_aside_ins_keeps_the_document_fact(client, settings, ctx) -> None:
    identity, _ = _flagged(client, settings, ctx, qualified=True)
    done = _resolve(client, settings, identity.id, "set_aside_ins")
    assert done.status_code == 200, done.text
    assert done.json()["identity"]["status"] == "VALI" and not _items(ctx)
    assert identities.read_identity(ctx, identity.id).active_ins is None
    plain, _ = _flagged(client, settings, ctx, **SECOND)
    refused = _resolve(client, settings, plain.id, "set_aside_ins")
    assert refused.status_code == 409 and refused.json()["type"].endswith("collision-no-ins")
    assert len(_items(ctx)) == 1  # refused: nothing changed, the item stays open


def test_split_creates_the_second_person_linked_to_the_first(client, settings, ctx) -> None:
    subscriber(ctx, "DPI", 1)
    identity, _ = _flagged(client, settings, ctx)
    missing = _resolve(client, settings, identity.id, "split")
    assert missing.status_code == 409 and missing.json()["type"].endswith("collision-split-traits")
    unknown = _resolve(client, settings, identity.id, "guess")
    assert unknown.status_code == 422
    split = _resolve(client, settings, identity.id, "split", traits=SECOND)
    assert split.status_code == 200, split.text
    created = split.json()["created"]
    assert (created["status"], created["birth_name"]) == ("PROV", "MARTIN") and not _items(ctx)
    [link] = links.links_of(ctx, CELL, identity.id)
    assert (link.other(identity.id), link.source, link.unlinked_at) == (created["id"], "split", None)
    assert [e for e, _ in _events(ctx, created["id"])] == ["A28"]
    event, snapshot = _events(ctx, identity.id)[-1]
    assert event == "A24" and snapshot["linked"]["ipp"] == created["ipp"]


def test_one_ins_with_traits_that_disagree_opens_a_potential_collision(ctx) -> None:
    first = _identity(ctx)
    other = _identity(ctx, **SECOND)
    qualify(ctx, other.id)  # the INS was the other person's, then set aside: now in its history
    with ctx.unit_of_work(CELL) as uow:
        uow.identities.deactivate_ins(other.id, uow.now())
        uow.commit()
    with ctx.unit_of_work(CELL) as uow:
        uow.identities.add_ins(first.id, InsRecord(Ins.of(MATRICULES[0], OID_NIR), True, "INSI"), uow.now())
        uow.duplicates.queue([first.id, other.id], uow.now())
        uow.commit()
    duplicates.check_all_pending(ctx)
    [item] = _items(ctx)
    high, low = max(first.id, other.id), min(first.id, other.id)
    assert (item.identity_id, item.other_identity_id, item.outcome) == (high, low, "same-ins-traits-disagree")
    [pair] = duplicates.list_pairs(ctx, CELL)
    assert "same-ins-traits-disagree" in pair.pair.rules  # the pair keeps its grade and rules
