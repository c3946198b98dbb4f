"""Merges and unmerges on both engines: the RNIV rules, what the cell sees after, no orphan row,
concurrent merges, and the A40 delivered in order over a real MLLP socket."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import replace

import hl7
import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from app.db.hl7_tables import OutboxMessageRow
from app.db.tables import DuplicatePairRow, IdentityMergeRow, InsRow, WorklistItemRow
from app.domain.errors import RuleViolation
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.domain.status import IdentityState
from app.services import duplicates, identities, links, merges, queries
from app.services.errors import NotFound, StaleVersion
from app.workers.relay import Relay
from tests.contract.mllp_fakes import FakeReceiver
from tests.integration.hl7_support import (
    ADMIN,
    DESK,
    MATRICULES,
    drain,
    fast,
    new_identity,
    qualify,
    subscriber,
)

CELL = DESK  # admission + identitovigilance
MARIE = {"birth_name": "DUPONT", "first_names": "MARIE ANNE", "birth_date": "1961-03-04", "sex": "F",
         "birth_place_code": "63113"}


def _pair(ctx, survivor_id: int, absorbed_id: int):
    """Two identities of one person, the second typed with its date swapped; the pair detected."""
    survivor = identities.create_identity(ctx, DESK, identities.TraitsInput(**MARIE), ipp=f"S{survivor_id}")
    typed = {**MARIE, "first_names": "MARIE-ANNE", "birth_date": "1961-04-03"}
    absorbed = identities.create_identity(ctx, DESK, identities.TraitsInput(**typed), ipp=f"A{absorbed_id}",
                                          confirm_new=True)
    duplicates.check_all_pending(ctx)
    return survivor, absorbed


def _with_state(ctx, identity_id: int, state: IdentityState, matricule: str | None = None):
    """Set a status (and an INS) the way INSi or a document check would (test shortcut)."""
    with ctx.unit_of_work(DESK) as uow:
        before = identities.load(uow, identity_id)
        if matricule:
            record = InsRecord(Ins.of(matricule, OID_NIR), True, "INSI")
            uow.identities.add_ins(identity_id, record, ctx.now())
        after = identities.store(uow, before, replace(before, state=state), "test_state")
        uow.commit()
    return after


def _merge(ctx, survivor, absorbed, reason="même personne : justificatif vérifié"):
    survivor = identities.read_identity(ctx, survivor.id)
    absorbed = identities.read_identity(ctx, absorbed.id)
    return merges.merge_identities(ctx, CELL, survivor.id, absorbed.id, reason=reason,
                                   survivor_version=survivor.version, absorbed_version=absorbed.version)


def _count(session: Session, table, *where) -> int:
    return session.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_merge_then_unmerge_round_trip_leaves_no_orphan(ctx, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    survivor, absorbed = _pair(ctx, 1, 2)
    # The absorbed identity holds an INS from INSi (RECUP); the survivor is VALI: the more reliable.
    survivor = _with_state(ctx, survivor.id, IdentityState(document=True))
    absorbed = _with_state(ctx, absorbed.id, IdentityState(insi=True), MATRICULES[0])
    [pair] = duplicates.list_pairs(ctx, CELL, status="open", grade=None, limit=10, offset=0)
    kept = _merge(ctx, survivor, absorbed)

    assert kept.id == survivor.id and kept.version == survivor.version + 1 and kept.active
    closed = identities.read_identity(ctx, absorbed.id)
    assert (closed.active, closed.merged_into, closed.active_ins) == (False, survivor.id, None)
    assert [r.ins.matricule for r in closed.ins_history] == [MATRICULES[0]]  # kept, inactive
    # Still found by its IPP, pointing at the survivor; its history is readable.
    found = queries.search_identities(ctx, CELL, ipp=absorbed.ipp)
    assert [(i.id, i.merged_into) for i in found] == [(absorbed.id, survivor.id)]
    assert "identity.merged" in [e.action for e in queries.identity_history(ctx, CELL, absorbed.id)]
    assert "identity.absorbed" in [e.action for e in queries.identity_history(ctx, CELL, survivor.id)]
    [record] = merges.merges_of(ctx, CELL, survivor.id)
    assert (record.absorbed_id, record.source, record.unmerged_at) == (absorbed.id, "api", None)
    [decided] = duplicates.list_pairs(ctx, CELL, status="merged", grade=None, limit=10, offset=0)
    assert decided.pair.id == pair.pair.id
    with Session(ctx.engine) as session:
        open_items = session.execute(select(WorklistItemRow.kind, WorklistItemRow.identity_id).where(
            WorklistItemRow.resolved_at.is_(None))).all()
    assert open_items == []  # the pair's item closed with the merge

    restored = merges.unmerge_identity(ctx, CELL, absorbed.id, reason="deux personnes : erreur de fusion")
    assert (restored.active, restored.merged_into, restored.status.value) == (True, None, "RECUP")
    assert restored.active_ins is not None and restored.active_ins.matricule == MATRICULES[0]
    assert identities.read_identity(ctx, survivor.id).status.value == "VALI"
    [record] = merges.merges_of(ctx, CELL, absorbed.id)
    assert record.unmerged_by == CELL.subject and record.unmerge_reason == "deux personnes : erreur de fusion"
    [dismissed] = duplicates.list_pairs(ctx, CELL, status="dismissed", grade=None, limit=10, offset=0)
    assert dismissed.pair.id == pair.pair.id
    duplicates.check_all_pending(ctx)  # the restored identity is checked again: not proposed again
    assert duplicates.list_pairs(ctx, CELL, status="open", grade=None, limit=10, offset=0) == []

    with Session(ctx.engine) as session:
        ids = {survivor.id, absorbed.id}
        for table, columns in ((DuplicatePairRow, ("low_id", "high_id")), (InsRow, ("identity_id",)),
                               (IdentityMergeRow, ("survivor_id", "absorbed_id")),
                               (WorklistItemRow, ("identity_id",))):
            for column in columns:
                assert _count(session, table, getattr(table, column).not_in(ids)) == 0
        assert _count(session, InsRow) == 1 and _count(session, InsRow, InsRow.active) == 1
        assert _count(session, IdentityMergeRow, IdentityMergeRow.unmerged_at.is_(None)) == 0
        keys = session.execute(text("SELECT DISTINCT identity_id FROM identity_match_key")).scalars().all()
        assert sorted(keys) == sorted(ids)
    assert MATRICULES[0] not in caplog.text and "DUPONT" not in caplog.text


@pytest.mark.parametrize("case", ["dout", "fict", "two-ins", "less-reliable", "self"])
def test_merges_the_rniv_forbids_are_refused_and_change_nothing(ctx, case) -> None:
    survivor, absorbed = _pair(ctx, 1, 2)
    expected = {"dout": "merge-blocked-attribute", "fict": "merge-blocked-attribute",
                "two-ins": "merge-two-ins", "less-reliable": "merge-survivor-less-reliable",
                "self": "merge-same-identity"}[case]
    if case in ("dout", "fict"):
        identities.set_attribute(ctx, CELL, absorbed.id, case.upper(), reason="doute")
    elif case == "two-ins":
        qualify(ctx, survivor.id, MATRICULES[0])
        qualify(ctx, absorbed.id, MATRICULES[1])
    elif case == "less-reliable":
        qualify(ctx, absorbed.id, MATRICULES[1])
    before = [identities.read_identity(ctx, i) for i in (survivor.id, absorbed.id)]
    with pytest.raises(RuleViolation) as refused:
        _merge(ctx, survivor, survivor if case == "self" else absorbed)
    assert refused.value.code == expected
    assert [identities.read_identity(ctx, i) for i in (survivor.id, absorbed.id)] == before
    assert merges.merges_of(ctx, CELL, survivor.id) == []
    if case == "less-reliable":  # the message says which way round to merge
        assert f"merge identity {survivor.id} into it" in refused.value.message("en")
        merges.merge_identities(ctx, CELL, absorbed.id, survivor.id, reason="sens inverse",
                                survivor_version=before[1].version, absorbed_version=before[0].version)


def test_a_merged_identity_cannot_be_merged_again_nor_unmerged_twice(ctx) -> None:
    survivor, absorbed = _pair(ctx, 1, 2)
    _merge(ctx, survivor, absorbed)
    third = new_identity(ctx, 7)
    with pytest.raises(RuleViolation) as again:
        _merge(ctx, third, absorbed)
    assert again.value.code == "identity-merged"
    merges.unmerge_identity(ctx, CELL, absorbed.id, reason="erreur")
    with pytest.raises(RuleViolation) as twice:
        merges.unmerge_identity(ctx, CELL, absorbed.id, reason="erreur")
    assert twice.value.code == "unmerge-not-merged"
    with pytest.raises(NotFound):
        merges.unmerge_identity(ctx, CELL, 9999, reason="erreur")


def test_concurrent_merges_of_one_identity_one_wins_the_other_is_refused(ctx) -> None:
    first, absorbed = _pair(ctx, 1, 2)
    second = new_identity(ctx, 9)
    read = {i: identities.read_identity(ctx, i) for i in (first.id, second.id, absorbed.id)}
    barrier, outcomes = threading.Barrier(2), {}

    def merge_into(survivor_id: int) -> None:
        barrier.wait()
        try:
            merges.merge_identities(ctx, CELL, survivor_id, absorbed.id, reason="doublon",
                                    survivor_version=read[survivor_id].version,
                                    absorbed_version=read[absorbed.id].version)
            outcomes[survivor_id] = "merged"
        except (RuleViolation, StaleVersion) as exc:
            outcomes[survivor_id] = exc.code

    threads = [threading.Thread(target=merge_into, args=(s,)) for s in (first.id, second.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes.values()) in (["identity-merged", "merged"], ["merged", "stale-version"])
    winner = next(s for s, outcome in outcomes.items() if outcome == "merged")
    assert identities.read_identity(ctx, absorbed.id).merged_into == winner
    with Session(ctx.engine) as session:
        assert _count(session, IdentityMergeRow) == 1
        a40 = session.execute(select(OutboxMessageRow.event)).scalars().all()
    assert a40.count("A40") == 0  # nobody subscribed: no message, and no half-written one either


def test_a40_reaches_every_subscriber_after_the_absorbed_identitys_pending_messages(ctx, settings) -> None:
    """The absorbed identity's A31 is refused once (AR) and retried: the A40 must not overtake it."""
    refused_once: list[bytes] = []

    def behaviour(message: bytes, _index: int) -> str:
        if b"MARTIN" in message and not refused_once:  # the absorbed identity's A31
            refused_once.append(message)
            return "AR"
        return "AA"

    async def scenario():
        legacy, ready = await FakeReceiver(behaviour).start(), await FakeReceiver().start()
        subscriber(ctx, "OLD", legacy.port)
        sub = subscriber(ctx, "NEW", ready.port)
        from app.services.subscribers import switch_ins_ready

        switch_ins_ready(ctx, ADMIN, sub.id)
        survivor, absorbed = _pair(ctx, 1, 2)
        qualify(ctx, survivor.id, MATRICULES[0])
        identities.update_identity(ctx, DESK, absorbed.id, {"used_name": "MARTIN"},
                                   expected_version=identities.read_identity(ctx, absorbed.id).version)
        _merge(ctx, survivor, absorbed)
        # The refused A31 waits 0.5 s before its retry: long enough for the A40 to overtake it if it could.
        relay = Relay(ctx, fast(settings, retry_base_seconds=0.5, retry_max_seconds=0.5))
        await drain(relay, lambda: len(legacy.acked) >= 5 and len(ready.acked) >= 5)
        await relay.close()
        await legacy.close()
        await ready.close()
        return legacy, ready, survivor, absorbed

    legacy, ready, survivor, absorbed = asyncio.run(scenario())
    for receiver in (legacy, ready):
        parsed = [hl7.parse(m.decode().replace("\n", "\r")) for m in receiver.acked]
        events = [str(m.segment("MSH")[9][0][1]) for m in parsed]
        assert events[-2:] == ["A31", "A40"], events  # the absorbed identity's A31 first, then the merge
        merge = parsed[-1]
        assert str(merge.segment("MRG")[1][0][0]) == absorbed.ipp
        assert str(merge.segment("PID")[3][0][0]) == survivor.ipp
    ready_pid3 = str(hl7.parse(ready.acked[-1].decode()).segment("PID")[3])
    legacy_pid3 = str(hl7.parse(legacy.acked[-1].decode()).segment("PID")[3])
    assert MATRICULES[0] in ready_pid3 and MATRICULES[0] not in legacy_pid3  # INS only where ready


def test_a_merge_ends_the_absorbed_identitys_links(ctx) -> None:
    survivor, absorbed = _pair(ctx, 1, 2)
    other = new_identity(ctx, 5)
    links.link_identities(ctx, CELL, absorbed.id, other.id, reason="à lire ensemble")
    _merge(ctx, survivor, absorbed)
    [link] = links.links_of(ctx, CELL, other.id)
    assert link.unlinked_at is not None and link.unlink_reason == "même personne : justificatif vérifié"
    assert "identity.unlinked" in [e.action for e in queries.identity_history(ctx, CELL, other.id)]


def test_a_merge_from_before_merges_were_recorded_says_why_it_cannot_be_undone(ctx) -> None:
    survivor, absorbed = _pair(ctx, 1, 2)
    _merge(ctx, survivor, absorbed)
    with ctx.engine.begin() as connection:  # what an A40 applied by an earlier version left: no record
        connection.execute(text("DELETE FROM identity_merge"))
    with pytest.raises(NotFound) as missing:
        merges.unmerge_identity(ctx, CELL, absorbed.id, reason="erreur")
    assert missing.value.code == "unmerge-no-record"
    assert "avant l'enregistrement des fusions" in missing.value.message("fr")
    assert not identities.read_identity(ctx, absorbed.id).active  # nothing changed
