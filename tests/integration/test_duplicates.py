"""Duplicate detection on both engines: the desk's candidates, the check after every change (REST
and HL7), the full scan and its resumption, dismissed pairs, and logs without traits."""

from __future__ import annotations

import logging
import multiprocessing
import signal
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.db.tables import DuplicatePairRow, IdentityMatchKeyRow
from app.domain.duplicates import Blocks, PairFilter, ScanStatus
from app.domain.matching import Grade, MatchRecord
from app.domain.matching.blocking import KeyMaker
from app.integrations.hl7.parse import parse_ack
from app.services import duplicate_scan, duplicates, identities, worklists
from app.services.identities import TraitsInput
from tests.conftest import actor
from tests.integration.duplicates_support import DUPLICATES, seed
from tests.integration.test_hl7_inbound import exchange, pam

DESK = actor("admission")
CELL = actor("identitovigilance", sub="ivg-1")


def _create(ctx, confirm_new: bool = False, **raw: str):
    return identities.create_identity(ctx, DESK, TraitsInput(**raw), confirm_new=confirm_new)


def _pairs(ctx) -> dict[tuple[int, int], tuple[str, str]]:
    with Session(ctx.engine) as session:
        rows = session.execute(select(DuplicatePairRow)).scalars().all()
    return {(r.low_id, r.high_id): (r.grade, r.status) for r in rows}


def _items(ctx, include_resolved: bool = False):
    return worklists.list_items(ctx, CELL, "potential_duplicate", include_resolved=include_resolved)


def test_candidates_rank_french_errors(ctx) -> None:
    """Each typical error still finds its identity, the closest first; a twin stays possible."""
    twin = _create(ctx, birth_name="Rousseau", first_names="Paul Henri", birth_date="1980-03-04", sex="M",
                   birth_place_code="75112")
    same = _create(ctx, birth_name="Rousseau", first_names="Jean Pierre", birth_date="1980-03-04", sex="M",
                   birth_place_code="75112", confirm_new=True)
    stranger = _create(ctx, birth_name="Rousseau", first_names="Jean Pierre", birth_date="1951-10-20",
                       sex="M", birth_place_code="13055")
    married = _create(ctx, birth_name="Bernard", first_names="Hélène", used_name="Giraud",
                      birth_date="1962-09-21", sex="F", birth_place_code="33063")
    # ROUSSO (sounds alike) and JEAN-PIERRE (hyphen); then 04/03 typed 03/04 (day and month swapped).
    # First just created (not keyed yet: found among the latest changes), then keyed by the job.
    probes = [TraitsInput("Rousso", "Jean-Pierre", "1980-03-04", "M", birth_place_code="75112"),
              TraitsInput("ROUSSEAU", "JEAN PIERRE", "1980-04-03", "M", birth_place_code="75112")]
    for typed in probes + ["keyed"] + probes:
        if typed == "keyed":
            assert duplicates.check_all_pending(ctx) == 4 and duplicates.queued_changes(ctx) == 0
            continue
        found = duplicates.find_candidates(ctx, DESK, typed)
        assert found[0].identity.id == same.id and found[0].result.grade in (Grade.CERTAIN, Grade.PROBABLE)
        assert stranger.id not in [c.identity.id for c in found]
        assert all(c.result.grade is not Grade.NO_MATCH for c in found)
        assert [c.result.score for c in found] == sorted((c.result.score for c in found), reverse=True)
    # The twin: same name, date and place, other first names: never above possible.
    exact = duplicates.find_candidates(ctx, DESK, TraitsInput("ROUSSEAU", "JEAN PIERRE", "1980-03-04", "M",
                                                              birth_place_code="75112"))
    assert exact[0].identity.id == same.id and exact[0].result.grade is Grade.CERTAIN
    assert {c.identity.id: c.result.grade for c in exact}.get(twin.id, Grade.NO_MATCH) in (Grade.POSSIBLE,
                                                                                            Grade.NO_MATCH)
    # A married name typed as the birth name (the used name is recorded on the other identity).
    typed = duplicates.find_candidates(ctx, DESK, TraitsInput("GIRAUD", "HELENE", "1962-09-21", "F",
                                                              birth_place_code="33063"))
    assert typed[0].identity.id == married.id and typed[0].result.grade in (Grade.CERTAIN, Grade.PROBABLE)
    lines = {t.trait: t for t in typed[0].result.traits}
    assert lines["birth_name"].code == "birth-vs-used-name"


def test_desk_refuses_a_probable_duplicate_unless_confirmed(ctx) -> None:
    first = _create(ctx, birth_name="Lefebure", first_names="Martine", birth_date="1975-06-11", sex="F",
                    birth_place_code="59350")
    swapped = {"birth_name": "LEFEBURE", "first_names": "MARTINE", "birth_date": "1975-11-06", "sex": "F",
               "birth_place_code": "59350"}
    with pytest.raises(identities.ProbableDuplicate) as refused:
        _create(ctx, **swapped)
    assert [(c.identity.id, c.result.grade) for c in refused.value.candidates] == [(first.id, Grade.PROBABLE)]
    created = _create(ctx, confirm_new=True, **swapped)
    assert _pairs(ctx) == {(first.id, created.id): ("probable", "open")}
    [item] = _items(ctx)
    assert (item.identity_id, item.other_identity_id, item.source) == (created.id, first.id, "desk")


def test_every_change_is_checked_after_its_commit(ctx) -> None:
    a = _create(ctx, birth_name="Moreaux", first_names="Claire Marie Anne", birth_date="1991-02-17", sex="F",
                birth_place_code="44109")
    b = _create(ctx, birth_name="Moreaux", first_names="Lucie", birth_date="1991-02-17", sex="F",
                birth_place_code="44109")
    assert duplicates.check_all_pending(ctx) == 2
    assert not _items(ctx)  # LUCIE / CLAIRE MARIE ANNE: other first names, at most possible
    # The desk corrects b's first names: the check after the commit opens the pair.
    identities.update_identity(ctx, DESK, b.id, {"first_names": "CLAIRE"}, expected_version=1)
    assert duplicates.queued_changes(ctx) == 1
    assert duplicates.check_all_pending(ctx) == 1
    assert _pairs(ctx) == {(a.id, b.id): ("certain", "open")}
    [item] = _items(ctx)
    assert item.outcome.startswith("pair:") and item.source == "check"
    # Checked again (the same change twice): one item, one pair.
    with ctx.unit_of_work(CELL) as uow:
        uow.duplicates.queue([b.id], uow.now())
        uow.commit()
    duplicates.check_all_pending(ctx)
    assert len(_items(ctx)) == 1 and len(_pairs(ctx)) == 1
    # Corrected back to another person: the pair no longer matches, its item closes by itself.
    identities.update_identity(ctx, DESK, b.id, {"first_names": "LUCIE"}, expected_version=2)
    duplicates.check_all_pending(ctx)
    assert not _items(ctx)
    assert _pairs(ctx)[(a.id, b.id)][0] in ("possible", "no_match")


def test_hl7_accepts_a_probable_duplicate_and_the_check_opens_an_item(ctx, settings) -> None:
    desk = _create(ctx, birth_name="PAT-TROIS", first_names="DOMINIQUE", birth_date="1979-03-28", sex="F",
                   birth_place_code="63220")
    [ack] = exchange(ctx, settings, pam("A1", event="A28^ADT_A05", ipp="HL7-77"))
    assert parse_ack(ack).code == "AA"  # HL7 inbound never refuses a duplicate
    assert not _items(ctx)  # nothing done on the ingest path
    assert duplicates.check_all_pending(ctx) == 2
    [item] = _items(ctx)
    assert item.other_identity_id == desk.id and item.identity_id != desk.id and item.source == "check"
    assert item.details["grade"] in ("certain", "probable")


def test_scan_finds_injected_duplicates_and_resumes_after_a_kill(ctx) -> None:
    seeded = seed(ctx, 400)

    class Killed(BaseException):
        """The process dies after the first chunk is committed."""

    scan = duplicate_scan.start_scan(ctx, CELL, "runner-1")

    def kill(_progress) -> None:
        raise Killed

    with pytest.raises(Killed):
        duplicate_scan.run_scan(ctx, scan.id, "runner-1", chunk=150, on_progress=kill)
    stopped = duplicate_scan.scan_status(ctx, CELL, scan.id)
    assert stopped.status == ScanStatus.RUNNING.value and stopped.identities_done == 150
    assert stopped.cursor_id == seeded.ids[149]
    # Another runner takes it over once the first one stopped beating, and goes on after the cursor.
    with pytest.raises(duplicate_scan.Conflict):
        duplicate_scan.resume_scan(ctx, CELL, scan.id, "runner-2", lease_seconds=300)
    duplicate_scan.resume_scan(ctx, CELL, scan.id, "runner-2", lease_seconds=0)
    resumed = duplicate_scan.run_scan(ctx, scan.id, "runner-2", chunk=150)
    assert resumed.status == ScanStatus.DONE.value and resumed.identities_done == len(seeded.ids)
    found = _pairs(ctx)
    for base, duplicate in seeded.duplicates:
        assert found[min(base, duplicate), max(base, duplicate)][0] in ("certain", "probable")
    assert found.get(seeded.twins, ("no_match",))[0] in ("possible", "no_match")
    # An uninterrupted scan of the same identities finds the same pairs, compared once each.
    again = duplicate_scan.start_scan(ctx, CELL, "runner-3")
    whole = duplicate_scan.run_scan(ctx, again.id, "runner-3", chunk=10_000)
    assert (whole.comparisons, whole.pairs_found, whole.pairs_alert) == (
        resumed.comparisons, resumed.pairs_found, resumed.pairs_alert)
    assert _pairs(ctx) == found
    alerts = [i for i in _items(ctx) if i.source == "scan"]
    assert len(alerts) == resumed.pairs_alert >= len(DUPLICATES)


def test_a_scan_scored_in_two_processes_finds_what_one_process_finds(ctx, monkeypatch) -> None:
    seeded = seed(ctx, 300)
    one = duplicate_scan.start_scan(ctx, CELL, "runner-1")
    alone = duplicate_scan.run_scan(ctx, one.id, "runner-1", chunk=100)
    pairs = _pairs(ctx)
    monkeypatch.setattr(duplicate_scan, "PARALLEL_FROM", 0)
    two = duplicate_scan.start_scan(ctx, CELL, "runner-2")
    forked = duplicate_scan.run_scan(ctx, two.id, "runner-2", chunk=100, processes=2)
    assert (forked.figures["processes"], alone.figures["processes"]) == (2, 1)
    assert (forked.comparisons, forked.pairs_found, forked.pairs_alert) == (
        alone.comparisons, alone.pairs_found, alone.pairs_alert)
    assert _pairs(ctx) == pairs and len(pairs) >= len(seeded.duplicates)


def test_a_scan_whose_key_grouping_process_fails_is_recorded_failed(ctx, monkeypatch) -> None:
    seed(ctx, 60)
    monkeypatch.setattr(duplicate_scan, "PARALLEL_FROM", 0)

    def broken(self, inputs):  # in the forked process, which inherits the patch
        raise ValueError("broken")

    monkeypatch.setattr(KeyMaker, "keys", broken)
    scan = duplicate_scan.start_scan(ctx, CELL, "runner-1")
    with pytest.raises(duplicate_scan.KeyGroupingFailed, match="ValueError"):
        duplicate_scan.run_scan(ctx, scan.id, "runner-1", processes=2)
    failed = duplicate_scan.scan_status(ctx, CELL, scan.id)
    assert (failed.status, failed.error) == (ScanStatus.FAILED.value, "KeyGroupingFailed")
    assert multiprocessing.active_children() == []


def _stop_signals_ignored(_: int) -> bool:
    return signal.getsignal(signal.SIGINT) is signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_scoring_processes_leave_the_stop_signals_to_the_scan(monkeypatch) -> None:
    """Ctrl-C reaches the terminal's whole process group, a service manager's SIGTERM the whole
    control group: the scan's process stops between chunks; its scoring processes neither die
    mid-chunk nor run the command's handler, and leave when the scan ends with them."""
    monkeypatch.setattr(duplicate_scan, "PARALLEL_FROM", 0)
    blocks = Blocks(10)
    blocks.add(MatchRecord.of(birth_name="MARTIN", first_names="ANNE", birth_date=date(1980, 3, 4), sex="F",
                              identity_id=1))
    blocks.seal()
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # as `identito duplicates scan` does
    try:
        with duplicate_scan._Scorer(blocks, PairFilter(), 2) as scorer:
            assert scorer.processes == 2
            assert scorer._pool.map(_stop_signals_ignored, range(8)) == [True] * 8
            processes = list(scorer._pool._pool)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [p.exitcode for p in processes] == [0, 0]


def test_dismissed_pair_comes_back_only_when_a_strict_trait_changes(ctx) -> None:
    a = _create(ctx, birth_name="Garniero", first_names="Baptiste", birth_date="2001-07-30", sex="M",
                birth_place_code="13055")
    b = _create(ctx, birth_name="Graniero", first_names="Baptiste", birth_date="2001-07-30", sex="M",
                birth_place_code="13055", confirm_new=True)
    [pair] = duplicates.list_pairs(ctx, CELL)
    with pytest.raises(duplicates.MissingReason):
        duplicates.dismiss_pair(ctx, CELL, pair.pair.id, " ")
    dismissed = duplicates.dismiss_pair(ctx, CELL, pair.pair.id, "jumeaux vérifiés sur les actes")
    assert dismissed.pair.status == "dismissed" and dismissed.pair.decided_by == "ivg-1"
    assert not _items(ctx) and _items(ctx, include_resolved=True)[0].closing_event == "duplicate_dismissed"
    with pytest.raises(duplicates.Conflict):
        duplicates.dismiss_pair(ctx, CELL, pair.pair.id, "encore")
    # A check and a full scan with the same strict traits: still dismissed, no new item.
    identities.update_identity(ctx, DESK, b.id, {"used_name": "GRANIER"}, expected_version=1)
    duplicates.check_all_pending(ctx)
    scan = duplicate_scan.start_scan(ctx, CELL, "runner")
    duplicate_scan.run_scan(ctx, scan.id, "runner")
    assert _pairs(ctx) == {(a.id, b.id): ("certain", "dismissed")} and not _items(ctx)
    assert duplicates.list_pairs(ctx, CELL) == []
    # A strict trait of one of them changes: proposed again, with a new worklist item.
    identities.update_identity(ctx, DESK, a.id, {"birth_place_code": "13201"}, expected_version=1)
    duplicates.check_all_pending(ctx)
    assert _pairs(ctx)[(a.id, b.id)][1] == "open"
    assert len(_items(ctx)) == 1
    history = [e.action for e in identities_history(ctx, a.id)]
    assert "duplicate.dismissed" in history and "duplicate.reopened" in history


def identities_history(ctx, identity_id: int):
    from app.services import queries

    return queries.identity_history(ctx, CELL, identity_id, limit=100, offset=0)


def test_bulk_load_writes_match_keys_and_rebuild_gives_the_same(ctx) -> None:
    seed(ctx, 50)
    keys = select(IdentityMatchKeyRow.key_hash, IdentityMatchKeyRow.identity_id)
    with Session(ctx.engine) as session:
        written = sorted(session.execute(keys))
    assert len(written) > 50 * 3
    with Session(ctx.engine) as session:
        session.execute(IdentityMatchKeyRow.__table__.delete())
        session.commit()
    assert duplicates.rebuild_keys(ctx, CELL, batch=20) == 50 + 2 * len(DUPLICATES) + 2
    with Session(ctx.engine) as session:
        assert sorted(session.execute(keys)) == written
        assert session.execute(select(func.count()).select_from(DuplicatePairRow)).scalar_one() == 0


def test_no_trait_reaches_the_logs(ctx, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    raw = {"birth_name": "LAFONTAINE", "first_names": "GUILLAUME", "birth_date": "1958-12-02", "sex": "M",
           "birth_place_code": "69383"}
    _create(ctx, **{**raw, "birth_name": "DE LA FONTAINE"})
    _create(ctx, confirm_new=True, **raw)
    exchange(ctx, settings, pam("L1", event="A28^ADT_A05", ipp="HL7-88"))
    duplicates.check_all_pending(ctx)
    scan = duplicate_scan.start_scan(ctx, CELL, "runner")
    duplicate_scan.run_scan(ctx, scan.id, "runner")
    [pair, *_] = duplicates.list_pairs(ctx, CELL)
    duplicates.dismiss_pair(ctx, CELL, pair.pair.id, "deux personnes")
    text = caplog.text.upper()
    assert "duplicate scan" in caplog.text  # the scan did log (ids and counts)
    for value in ("LAFONTAINE", "FONTAINE", "GUILLAUME", "1958", "69383", "PAT-TROIS", "DOMINIQUE", "1979"):
        assert value not in text, value
