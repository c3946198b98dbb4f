"""The full duplicate scan: every active identity against the others that share a blocking key.

Built for a million identities on two cores in minutes (docs/duplicates.md, "The full scan"):

- the identities are read in id order, a page at a time, and turned into match records with
  Python's cyclic garbage collector paused (``gc.disable`` while building, ``gc.freeze`` after: a
  million small objects would otherwise be walked again and again; about twice faster), each
  distinct name's features computed once for the whole scan (``RecordBuilder``);
- they are grouped by blocking key in memory (``app.domain.duplicates.Blocks``); a key shared by
  more than ``block_cap`` identities is not compared (its identities meet through their other keys).
  With two processes or more, a forked process groups the keys while this one reads and builds the
  next pages (``_KeyGrouper``);
- each pair is compared once, when its second identity (in id order) comes; a pair whose INS and
  birth date alone keep it below ``possible`` is skipped (``PairFilter``), the others are scored
  with ``match_score``, and only the pairs found are explained;
- the pairs of each chunk of identities are recorded with the progress and the resume point
  (``cursor_id``: the last identity of the chunk) in one transaction. A scan stopped or killed
  between chunks resumes after its last recorded chunk: it finds the same pairs, none twice.

A scan is a job: requested through the API (``request_scan``: queued, run by the worker) or run by
``identito duplicates scan`` in the foreground (``start_scan``). Its runner keeps a heartbeat; a scan
whose runner stopped beating for ``scan_lease_seconds`` may be taken over (``claim_scan``) or
resumed (``resume_scan``).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from app.db.duplicates import ScanJob
from app.db.errors import DatabaseUnavailable, DuplicateKey
from app.domain.duplicates import (
    ALERT_GRADES,
    BlockFigures,
    Blocks,
    Found,
    FoundBy,
    KeyGroups,
    PairFilter,
    ScanStatus,
    scan_range,
)
from app.domain.matching import MatchRecord, RecordBuilder, score_pair
from app.domain.matching.blocking import KeyMaker, KeySource
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext
from app.services.errors import Conflict, NotFound
from app.services.matching import FoundPair, record_pairs

__all__ = ["SCAN_JOB", "ScanJob", "claim_scan", "load_blocks", "request_scan", "resume_scan", "run_scan",
           "scan_status", "start_scan"]

log = logging.getLogger("identito.duplicates")
CELL = (Role.IDENTITOVIGILANCE,)
SCAN_JOB = Actor("job:duplicate-scan", frozenset({"identitovigilance"}), kind="job")
PAGE = 20_000  # identities read per statement
PARALLEL_FROM = 20_000  # identities from which scoring is spread over processes (below: not worth a fork)


def request_scan(ctx: ServiceContext, actor: Actor) -> tuple[ScanJob, bool]:
    """Queue a full scan for the worker; the scan already queued or running if there is one.
    Returns the scan and whether it is a new one."""
    require_any(actor.roles, *CELL)
    with ctx.unit_of_work(actor) as uow:
        active = uow.duplicates.active_scan()
        if active is not None:
            return active, False
        scan = uow.duplicates.add_scan(created_by=actor.subject, at=uow.now())
        uow.audit("duplicate.scan_requested", None, None, {"scan": scan.id}, full=True)
        uow.commit()
    return scan, True


def start_scan(ctx: ServiceContext, actor: Actor, runner: str) -> ScanJob:
    """A new scan, already running in ``runner`` (the command line runs it in the foreground)."""
    require_any(actor.roles, *CELL)
    with ctx.unit_of_work(actor) as uow:
        scan = uow.duplicates.add_scan(created_by=actor.subject, at=uow.now(), runner=runner)
        uow.audit("duplicate.scan_requested", None, None, {"scan": scan.id, "runner": runner}, full=True)
        uow.commit()
    return scan


def scan_status(ctx: ServiceContext, actor: Actor, scan_id: int) -> ScanJob:
    """Where a scan stands: its counters, resume point and figures."""
    require_any(actor.roles, *CELL, Role.ADMIN)
    with ctx.reading() as reader:
        scan = reader.duplicates.get_scan(scan_id)
    if scan is None:
        raise NotFound(what="Duplicate scan", ident=scan_id)
    return scan


def claim_scan(ctx: ServiceContext, runner: str, lease_seconds: float) -> ScanJob | None:
    """The next scan for a worker to run: queued, or running without a heartbeat for the lease
    (its runner died: it resumes after its last recorded chunk)."""
    with ctx.unit_of_work(SCAN_JOB) as uow:
        now = uow.now()
        scan = uow.duplicates.next_scan(now - timedelta(seconds=lease_seconds))
        if scan is None:
            return None
        uow.duplicates.start_scan(scan.id, runner, now)
        if scan.status == ScanStatus.RUNNING.value:
            log.warning("duplicate scan %s: taken over from %s (no heartbeat)", scan.id, scan.runner)
        uow.commit()
    return scan_status(ctx, SCAN_JOB, scan.id)


def resume_scan(
    ctx: ServiceContext, actor: Actor, scan_id: int, runner: str, lease_seconds: float
) -> ScanJob:
    """Take a scan to run it here: queued, or running but without a heartbeat for the lease."""
    require_any(actor.roles, *CELL)
    with ctx.unit_of_work(actor) as uow:
        now = uow.now()
        scan = uow.duplicates.get_scan(scan_id, for_update=True)
        if scan is None:
            raise NotFound(what="Duplicate scan", ident=scan_id)
        if scan.status not in (ScanStatus.QUEUED.value, ScanStatus.RUNNING.value):
            raise Conflict("duplicate-scan-finished", ident=scan_id, status=scan.status)
        beat = scan.heartbeat_at
        if scan.status == ScanStatus.RUNNING.value and scan.runner != runner and beat is not None \
                and _aware(beat) > now - timedelta(seconds=lease_seconds):
            raise Conflict("duplicate-scan-busy", ident=scan_id, runner=scan.runner)
        uow.duplicates.start_scan(scan_id, runner, now)
        uow.audit("duplicate.scan_resumed", None, None, {"scan": scan_id, "runner": runner,
                                                          "after_identity": scan.cursor_id}, full=True)
        uow.commit()
    return scan_status(ctx, actor, scan_id)


def _aware(moment: datetime) -> datetime:
    """SQLite gives timestamps back without their zone (they were written in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def load_blocks(ctx: ServiceContext, processes: int = 1) -> tuple[Blocks, BlockFigures, float]:
    """Every active identity as a match record, grouped by blocking key (id order); the grouping's
    figures and the seconds spent reading and building the records. With ``processes`` > 1 and
    enough identities, the keys are grouped in a forked process meanwhile (``_KeyGrouper``)."""
    blocks = Blocks(ctx.duplicates.block_cap)
    collecting = gc.isenabled()
    gc.disable()  # a million records: the cyclic collector would walk them over and over
    begun = time.monotonic()
    try:
        with _KeyGrouper(blocks, processes) as grouper:
            after = 0
            builder = RecordBuilder()  # each distinct name's features once for the whole scan
            with ctx.reading() as reader:
                while records := reader.duplicates.match_records(after, PAGE, builder):
                    grouper.add(records)
                    after = records[-1].identity_id or after
            read = time.monotonic() - begun
            return blocks, grouper.seal(), read
    finally:
        gc.freeze()  # what is built stays: later collections skip it
        if collecting:
            gc.enable()


def run_scan(
    ctx: ServiceContext, scan_id: int, runner: str, *, chunk: int = 20_000, processes: int = 1,
    stop: Callable[[], bool] = lambda: False, on_progress: Callable[[ScanJob], None] | None = None,
) -> ScanJob:
    """Run (or resume) a scan held by ``runner`` until it is done, ``stop()`` says so, or another
    runner took it over; its state at the end (``running`` when stopped: resumable). ``processes``
    > 1 groups the keys beside the reading, and spreads the scoring over that many forked
    processes (one per core)."""
    scan = scan_status(ctx, SCAN_JOB, scan_id)
    started = time.monotonic()
    try:
        blocks, grouped, read = load_blocks(ctx, processes)
        figures: dict[str, Any] = {
            **scan.figures, "block_cap": blocks.cap, "groups": grouped.groups,
            "capped_groups": grouped.capped_groups, "capped_identities": grouped.capped_identities,
            "candidate_pairs": grouped.candidate_pairs,
            "load_seconds": round(read, 2), "group_seconds": round(time.monotonic() - started - read, 2),
        }
        if grouped.capped_groups:
            log.warning("duplicate scan %s: %d keys shared by more than %d identities were not compared",
                        scan_id, grouped.capped_groups, blocks.cap)
        with _Scorer(blocks, PairFilter(ctx.duplicates.model), processes) as scorer:
            figures["processes"] = scorer.processes
            return _score(ctx, scan, scorer, runner, figures, chunk, stop, on_progress)
    except Exception as exc:
        log.error("duplicate scan %s failed: %s", scan_id, type(exc).__name__)
        with ctx.unit_of_work(SCAN_JOB) as uow:
            uow.duplicates.finish_scan(scan_id, runner, status=ScanStatus.FAILED.value, at=uow.now(),
                                       error=type(exc).__name__)
            uow.commit()
        raise
    finally:
        gc.unfreeze()


def _score(
    ctx: ServiceContext, scan: ScanJob, scorer: _Scorer, runner: str, figures: dict[str, Any], chunk: int,
    stop: Callable[[], bool], on_progress: Callable[[ScanJob], None] | None,
) -> ScanJob:
    blocks = scorer.blocks
    policy, records, total = ctx.duplicates, blocks.records, len(blocks)
    position = blocks.index_after(scan.cursor_id)
    counters = {"comparisons": scan.comparisons, "pairs_found": scan.pairs_found,
                "pairs_alert": scan.pairs_alert}
    score_seconds = float(figures.get("score_seconds", 0.0))
    record_seconds = float(figures.get("record_seconds", 0.0))
    if not _progress(ctx, scan.id, runner, identities_total=total, identities_done=position, figures=figures):
        return scan_status(ctx, SCAN_JOB, scan.id)
    while position < total:
        if stop():
            log.info("duplicate scan %s: stopped after identity %s", scan.id, scan.cursor_id)
            return scan_status(ctx, SCAN_JOB, scan.id)
        begun = time.monotonic()
        end = min(position + chunk, total)
        found, compared = scorer.score(position, end)
        pairs = [FoundPair(records[f.first], records[f.second],
                           score_pair(records[f.first], records[f.second], policy.model)) for f in found]
        counters["comparisons"] += compared
        counters["pairs_found"] += len(pairs)
        counters["pairs_alert"] += sum(1 for p in pairs if p.result.grade in ALERT_GRADES)
        score_seconds += time.monotonic() - begun
        figures["score_seconds"] = round(score_seconds, 2)
        progress = {"cursor_id": records[end - 1].identity_id, "identities_done": end,
                    "figures": dict(figures), **counters}
        begun = time.monotonic()
        if not _record_chunk(ctx, scan.id, runner, pairs, progress):
            log.warning("duplicate scan %s: taken over by another runner, stopping", scan.id)
            return scan_status(ctx, SCAN_JOB, scan.id)
        record_seconds += time.monotonic() - begun
        figures["record_seconds"] = round(record_seconds, 2)
        position = end
        scan = scan_status(ctx, SCAN_JOB, scan.id)
        if on_progress is not None:
            on_progress(scan)
    with ctx.unit_of_work(SCAN_JOB) as uow:
        uow.duplicates.finish_scan(scan.id, runner, status=ScanStatus.DONE.value, at=uow.now(),
                                   figures=dict(figures))
        uow.audit("duplicate.scan_done", None, None, {"scan": scan.id, "identities": total, **counters},
                  full=True)
        uow.commit()
    log.info("duplicate scan %s done: %d identities, %d pairs compared, %d found (%d probable or certain)",
             scan.id, total, counters["comparisons"], counters["pairs_found"], counters["pairs_alert"])
    return scan_status(ctx, SCAN_JOB, scan.id)


# The scan's blocks and filter, inherited by the scoring processes when they are forked.
_SHARED: dict[str, Any] = {}


def _score_part(bounds: tuple[int, int]) -> tuple[list[tuple[int, int, float]], int]:
    """In a scoring process: the pairs of a range of identities, as plain tuples."""
    found, compared = scan_range(_SHARED["blocks"], bounds[0], bounds[1], _SHARED["filter"])
    return [(f.first, f.second, f.score) for f in found], compared


def _scoring_signals() -> None:
    """In a scoring process: the stop signals are the parent's to act on. Ctrl-C reaches the whole
    terminal's process group, and a service manager's SIGTERM the whole control group; the parent
    stops between chunks (``identito duplicates scan``, the worker), then ends the processes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class KeyGroupingFailed(RuntimeError):
    """The process grouping a scan's keys failed (its error's type) or ended early."""


def _group_keys(connection: Connection, parent_end: Connection, cap: int) -> None:
    """In the key-grouping process: the keys of the records whose inputs come, page after page
    (``KeySource.page``), until an empty message; then the groups and figures back
    (``KeyGroups.seal``)."""
    parent_end.close()  # so that the parent's end closing (it failed) reads as the end here
    _scoring_signals()
    maker, groups = KeyMaker(), KeyGroups(cap)
    try:
        while page := connection.recv_bytes():
            names, inputs = pickle.loads(page)  # noqa: S301 (from the parent process, through a pipe)
            maker.names(names)
            for one in inputs:
                groups.add(maker.keys(one))
        answer: tuple[bool, Any] = (True, groups.seal())
    except EOFError:
        return  # the parent stopped reading: nobody waits for the groups
    except Exception as exc:  # the parent raises it: only its type crosses
        answer = (False, type(exc).__name__)
    with contextlib.suppress(OSError):  # the parent gone meanwhile: nobody to tell
        connection.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


class _KeyGrouper:
    """Groups a scan's blocking keys as the pages of records come: here (``Blocks.add``), or, when
    the scan has ``processes`` > 1 and its first page holds ``PARALLEL_FROM`` identities, in a forked
    process while this one reads and builds the next pages (about a third of the loading time, on
    the other core). The forked process gets a few plain values of each record (``KeySource``), so
    the keys are those of the records built here, and sends back the groups."""

    def __init__(self, blocks: Blocks, processes: int) -> None:
        self.blocks = blocks
        self.forking = processes > 1 and "fork" in multiprocessing.get_all_start_methods()
        self._process: Any = None
        self._connection: Connection | None = None
        self._source = KeySource()

    def __enter__(self) -> _KeyGrouper:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connection is not None:
            self._connection.close()  # a process still waiting for pages sees the end and leaves
        if self._process is not None:
            self._process.join()

    def add(self, records: list[MatchRecord]) -> None:
        """The next page of records."""
        if self._connection is None and self.forking and len(records) >= PARALLEL_FROM:
            self._start()
        if self._connection is None:
            for record in records:
                self.blocks.add(record)
            return
        self.blocks.extend(records)
        page = pickle.dumps(self._source.page(records), protocol=pickle.HIGHEST_PROTOCOL)
        self._send(page)

    def seal(self) -> BlockFigures:
        """The groups of every record added, given to the blocks; their figures."""
        if self._connection is None:
            return self.blocks.seal()
        self._send(b"")
        done, value = self._answer()
        if not done:
            raise KeyGroupingFailed(value)
        groups, figures = value
        self.blocks.use_groups(groups)
        return figures  # type: ignore[no-any-return]

    def _send(self, message: bytes) -> None:
        assert self._connection is not None
        try:
            self._connection.send_bytes(message)
        except OSError:  # the process left: it failed, and may have said why
            raise KeyGroupingFailed(self._answer()[1]) from None

    def _answer(self) -> tuple[bool, Any]:
        assert self._connection is not None
        try:
            answer: tuple[bool, Any] = pickle.loads(self._connection.recv_bytes())  # noqa: S301 (our child)
        except (EOFError, OSError):
            return False, "ended"
        return answer

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        here, there = context.Pipe()
        self._process = context.Process(target=_group_keys, args=(there, here, self.blocks.cap),
                                        name="duplicate-scan-keys", daemon=True)
        self._process.start()
        there.close()
        _room(here)
        self._connection = here


def _room(connection: Connection, size: int = 4 << 20) -> None:
    """Room for a few pages in the socket between the processes: a page sent returns at once, and
    the two processes do not wait on each other chunk after chunk of it (a busy machine then makes
    each wait last a scheduling slice). Where the system allows less, it gives what it allows."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(connection.fileno())) as end:
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class _Scorer:
    """Scores ranges of a scan's identities, here or spread over forked processes.

    The processes are forked once the identities are grouped, so they inherit the groups (the
    records were frozen out of the garbage collector's reach first, which keeps most memory pages
    shared); each range is cut in parts scored in parallel, and the pairs come back in order: the
    result is the one of a scan in one process.
    """

    def __init__(self, blocks: Blocks, pair_filter: PairFilter, processes: int) -> None:
        self.blocks, self.filter = blocks, pair_filter
        forking = "fork" in multiprocessing.get_all_start_methods()
        self.processes = processes if processes > 1 and forking and len(blocks) >= PARALLEL_FROM else 1
        self._pool: Any = None

    def __enter__(self) -> _Scorer:
        if self.processes > 1:
            _SHARED.update(blocks=self.blocks, filter=self.filter)
            context = multiprocessing.get_context("fork")
            self._pool = context.Pool(self.processes, initializer=_scoring_signals)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            # Between chunks the processes wait for work: each takes its end sentinel and leaves.
            # Not terminate(): it holds the task queue's lock and sends SIGTERM, which they ignore
            # (one waiting for that lock then waited forever, and the command with it).
            self._pool.close()
            self._pool.join()
        _SHARED.clear()

    def score(self, start: int, stop: int) -> tuple[list[Found], int]:
        """The pairs found whose second identity is in ``[start, stop)``, and the pairs compared."""
        if self._pool is None:
            return scan_range(self.blocks, start, stop, self.filter)
        step = max(1, -(-(stop - start) // (self.processes * 4)))
        parts = [(first, min(first + step, stop)) for first in range(start, stop, step)]
        found: list[Found] = []
        compared = 0
        for pairs, count in self._pool.map(_score_part, parts):
            found += [Found(*pair) for pair in pairs]
            compared += count
        return found, compared


def _record_chunk(ctx: ServiceContext, scan_id: int, runner: str, pairs: list[FoundPair],
                  progress: dict[str, Any], attempts: int = 3) -> bool:
    """Record a chunk's pairs with the scan's progress, in one transaction; False when the runner no
    longer holds the scan. A deadlock with the detection job, or a pair it inserted meanwhile, is
    retried (the pairs are read again)."""
    for attempt in range(1, attempts + 1):
        try:
            with ctx.unit_of_work(SCAN_JOB) as uow:
                record_pairs(uow, pairs, FoundBy.SCAN)
                if not uow.duplicates.scan_progress(scan_id, runner, uow.now(), **progress):
                    return False
                uow.commit()
            return True
        except (DatabaseUnavailable, DuplicateKey) as exc:
            if attempt == attempts:
                raise
            log.warning("duplicate scan %s: chunk retried (%s)", scan_id, type(exc).__name__)
            time.sleep(0.2 * attempt)
    return False


def _progress(ctx: ServiceContext, scan_id: int, runner: str, **values: Any) -> bool:
    with ctx.unit_of_work(SCAN_JOB) as uow:
        held = uow.duplicates.scan_progress(scan_id, runner, uow.now(), **values)
        uow.commit()
    return held
