"""The stored pairs a scan or the detection job looks up (``DuplicateRepository.pairs_between``), on
both engines: exactly the pairs asked for, and on PostgreSQL a statement planned for each call's
own ids.

Why the second point: psycopg prepares a statement on the server after five runs, and PostgreSQL
may then keep one generic plan for it. Made while ``duplicate_pair`` was nearly empty (the first
chunks of a first scan), that plan was a sequential scan testing every row against the whole id
array: at 1,000,000 identities the lookup grew from 0 to 0.2 s a chunk, chunk after chunk
(docs/performance.md, "Duplicates").
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlmodel import Session

from app.db.duplicates import DuplicateRepository
from app.db.tables import DuplicatePairRow
from app.db.worklists import NewItem, WorklistRepository
from app.domain.worklist import WorklistKind
from app.services import duplicate_scan
from tests.conftest import actor
from tests.integration.duplicates_support import seed

CELL = actor("identitovigilance", sub="ivg-1")


def _scanned(ctx) -> None:
    seed(ctx, 60)
    scan = duplicate_scan.start_scan(ctx, CELL, "runner")
    duplicate_scan.run_scan(ctx, scan.id, "runner")


def test_pairs_between_answers_exactly_the_pairs_asked_for(ctx) -> None:
    _scanned(ctx)
    with Session(ctx.engine) as session:
        stored = {(low, high) for low, high in
                  session.execute(select(DuplicatePairRow.low_id, DuplicatePairRow.high_id))}
        assert len(stored) >= 2
        (low1, high1), (low2, high2) = sorted(stored)[0], sorted(stored)[-1]
        # The low id of one pair with the high id of the other is (most likely) not a pair.
        asked = [(low1, high1), (low2, high2), (low1, high2), (low2, high1), (high2, high2 + 1)]
        found = DuplicateRepository(session).pairs_between(asked)
        assert set(found) == set(asked) & stored
        assert {(low1, high1), (low2, high2)} <= set(found)
        assert all(pair.key == key for key, pair in found.items())
        assert DuplicateRepository(session).pairs_between([]) == {}


def test_pairs_between_is_never_prepared_on_postgresql(ctx) -> None:
    _scanned(ctx)
    with Session(ctx.engine) as session:
        if session.connection().dialect.name != "postgresql":
            return
        repo = DuplicateRepository(session)
        for n in range(1, 9):  # more runs than psycopg's prepare threshold (5)
            repo.pairs_between([(n, n + 1), (n, n + 2)])
        prepared = session.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%duplicate_pair%'")
        ).scalar_one()
    assert prepared == 0


def test_the_worklist_lookup_of_a_scan_is_never_prepared_on_postgresql(ctx) -> None:
    """The same trap in ``WorklistRepository.open_many``'s read-back of the items it opened (0.7 s a
    chunk at 1M before the fix): a scan's chunks must not reuse a plan made on an empty table."""
    _scanned(ctx)
    with Session(ctx.engine) as session:
        if session.connection().dialect.name != "postgresql":
            return
        repo, now = WorklistRepository(session), ctx.now()
        for n in range(1, 9):  # more runs than psycopg's prepare threshold (5)
            item = NewItem(1, f"pair:{1000 + n}", None, 2, {})
            opened = repo.open_many(WorklistKind.POTENTIAL_DUPLICATE, [item], source="scan", at=now, by="t")
            assert len(opened) == 1 and opened[0].occurrences == 1
        prepared = session.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%open_key = ANY%'")
        ).scalar_one()
    assert prepared == 0
