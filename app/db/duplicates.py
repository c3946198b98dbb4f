"""Duplicate detection storage: match keys, the detection queue, pairs, scan jobs.

- ``identity_match_key``: the hashed blocking keys of each identity; the candidates of a set of
  traits are the identities sharing one of its keys (one indexed statement, ``candidates``).
- ``duplicate_check``: identity changes waiting for the detection job. ``DetectionQueue`` (a
  change sink) writes one row per change that may change an identity's matches, with the change's
  own commit (pipelined, no read): the only cost duplicate detection adds to the ingest path.
  The job keys the identity and scores it against its candidates after the commit.
- ``duplicate_pair`` and ``duplicate_scan``: read models below, never rows.

Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.db.engine import Precompiled, among, copy_rows
from app.db.identity_rows import IDENTITY, INS
from app.db.tables import DuplicateCheckRow, DuplicatePairRow, DuplicateScanRow, IdentityMatchKeyRow
from app.domain.identity import IdentityChange
from app.domain.matching import MatchRecord, RecordBuilder

MATCH_KEY = IdentityMatchKeyRow.__table__  # type: ignore[attr-defined]
CHECK = DuplicateCheckRow.__table__  # type: ignore[attr-defined]
PAIR = DuplicatePairRow.__table__  # type: ignore[attr-defined]
SCAN = DuplicateScanRow.__table__  # type: ignore[attr-defined]

_QUEUE = Precompiled(insert(CHECK).inline(), by_keys=True)  # no RETURNING: pipelined with the COMMIT
_NEW_PAIR_COLUMNS = ("low_id", "high_id", "score", "grade", "explanation", "rules", "status", "found_by",
                     "created_at", "updated_at")



def matters(change: IdentityChange) -> bool:
    """Whether a change may change the identity's matches: created, traits, INS, attributes
    (HOMA, DOUT/FICT) or merged; a status or a document alone does not."""
    before, after = change.before, change.identity
    return (
        before is None
        or before.traits != after.traits
        or before.ins_records != after.ins_records
        or before.attributes != after.attributes
        or before.active != after.active
    )


class DetectionQueue:
    """The change sink of duplicate detection: one ``duplicate_check`` row per change that matters."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))

    def identities_changed(
        self, session: Session, changes: Sequence[IdentityChange]
    ) -> Callable[[], None] | None:
        """The queue rows, written with the commit (none when no change matters)."""
        now = self.clock()
        rows = [{"identity_id": c.identity.id, "queued_at": now} for c in changes if matters(c)]
        if not rows:
            return None
        return lambda: _QUEUE.execute(session.connection(), rows)


@dataclass(frozen=True)
class QueuedCheck:
    """An identity change waiting for the detection job."""

    id: int
    identity_id: int


@dataclass(frozen=True)
class DuplicatePair:
    """Two identities that may be one person (low id first), as the cell sees the pair."""

    id: int
    low_id: int
    high_id: int
    score: float
    grade: str
    explanation: tuple[dict[str, Any], ...]
    rules: tuple[str, ...]
    status: str
    found_by: str
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    decided_digest: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> tuple[int, int]:
        """(low id, high id)."""
        return self.low_id, self.high_id


@dataclass(frozen=True)
class PairWrite:
    """What to store for a pair: a new one (``id`` None) or new values of a stored one."""

    low_id: int
    high_id: int
    score: float
    grade: str
    explanation: list[dict[str, Any]]
    rules: list[str]
    status: str
    found_by: str
    id: int | None = None
    reason: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decided_digest: str | None = None


@dataclass(frozen=True)
class ScanJob:
    """A full scan as stored: its state, resume point and counters."""

    id: int
    status: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    runner: str | None
    heartbeat_at: datetime | None
    cursor_id: int
    identities_total: int
    identities_done: int
    comparisons: int
    pairs_found: int
    pairs_alert: int
    figures: dict[str, Any]
    error: str | None


def _pair(row: Any) -> DuplicatePair:
    return DuplicatePair(
        id=row.id, low_id=row.low_id, high_id=row.high_id, score=row.score, grade=row.grade,
        explanation=tuple(row.explanation or ()), rules=tuple(row.rules or ()), status=row.status,
        found_by=row.found_by, reason=row.reason, decided_by=row.decided_by, decided_at=row.decided_at,
        decided_digest=row.decided_digest, created_at=row.created_at, updated_at=row.updated_at,
    )


def _scan(row: Any) -> ScanJob:
    return ScanJob(
        id=row.id, status=row.status, created_by=row.created_by, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, runner=row.runner,
        heartbeat_at=row.heartbeat_at, cursor_id=row.cursor_id, identities_total=row.identities_total,
        identities_done=row.identities_done, comparisons=row.comparisons, pairs_found=row.pairs_found,
        pairs_alert=row.pairs_alert, figures=dict(row.figures or {}), error=row.error,
    )


@lru_cache(maxsize=64)
def _candidates_statement(keys: int, pending: bool) -> Any:
    """Identities sharing each of ``keys`` keys, at most ``cap`` + 1 per key (so that a key over
    the cap is seen as such without reading all its identities), and the latest changed
    identities not keyed yet when ``pending``: one statement, one round trip. Built once per shape."""
    parts = [
        select(MATCH_KEY.c.key_hash, MATCH_KEY.c.identity_id)
        .where(MATCH_KEY.c.key_hash == bindparam(f"k{n}"))
        .limit(bindparam("per_key"))
        .subquery()
        for n in range(keys)
    ]
    selects = [select(part.c.key_hash, part.c.identity_id) for part in parts]
    if pending:
        latest = (select(CHECK.c.identity_id).order_by(CHECK.c.id.desc()).limit(bindparam("pending"))
                  .subquery())
        selects.append(select(literal(None).label("key_hash"), latest.c.identity_id))
    return selects[0] if len(selects) == 1 else union_all(*selects)


_PAIR_UPDATE = Precompiled(
    update(PAIR)
    .where(PAIR.c.id == bindparam("b_id"))
    .values({name: bindparam(name, type_=PAIR.c[name].type) for name in (
        "score", "grade", "explanation", "rules", "status", "found_by", "reason", "decided_by", "decided_at",
        "decided_digest", "updated_at")})
)
# The stored pairs among some (low, high): planned for each call's own ids (prepare=False). Once
# psycopg prepared it (after 5 runs), PostgreSQL kept a generic plan made while duplicate_pair was
# nearly empty (a first scan's first chunks): a sequential scan testing each row against the whole
# id array, whose cost grew with the table chunk after chunk (docs/performance.md, "Duplicates").
_PAIRS_BETWEEN = Precompiled(
    select(PAIR).where(PAIR.c.low_id == any_(bindparam("lows", type_=ARRAY(PAIR.c.low_id.type))),
                       PAIR.c.high_id == any_(bindparam("highs", type_=ARRAY(PAIR.c.high_id.type)))),
    prepare=False,
)
_RECORD_COLUMNS = (
    IDENTITY.c.id, IDENTITY.c.birth_name, IDENTITY.c.first_names, IDENTITY.c.birth_date,
    IDENTITY.c.birth_date_completed, IDENTITY.c.sex, IDENTITY.c.birth_place_code, IDENTITY.c.used_name,
    IDENTITY.c.used_first_name, IDENTITY.c.attributes,
)


class DuplicateRepository:
    """Match keys, the detection queue, duplicate pairs and scan jobs."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _connection(self) -> Connection:
        return self._session.connection()

    # -- match keys ---------------------------------------------------------------------------
    def replace_keys(self, identity_ids: Sequence[int], keys: Mapping[int, Iterable[int]]) -> None:
        """Give these identities these keys (an identity absent from ``keys`` gets none)."""
        if not identity_ids:
            return
        connection = self._connection()
        connection.execute(delete(MATCH_KEY).where(among(connection, MATCH_KEY.c.identity_id, identity_ids)))
        add_keys(connection, keys)

    def candidates(
        self, hashes: Sequence[int], *, per_key: int, pending: int = 0
    ) -> list[tuple[int | None, int]]:
        """(key hash, identity id) of the identities sharing each key, ``per_key`` at most per key;
        with ``pending``, also (None, id) of the latest changed identities the job has not keyed yet."""
        if not hashes and not pending:
            return []
        params: dict[str, Any] = {f"k{n}": value for n, value in enumerate(hashes)}
        params["per_key"] = per_key
        if pending:
            params["pending"] = pending
        statement = _candidates_statement(len(hashes), bool(pending))
        return [(row[0], int(row[1])) for row in self._connection().execute(statement, params)]

    def members(self, hashes: Iterable[int]) -> list[tuple[int, int]]:
        """(key hash, identity id) of every identity holding one of these keys (the detection job's
        batches: the block cap is applied by the caller)."""
        wanted = sorted(set(hashes))
        if not wanted:
            return []
        connection = self._connection()
        statement = select(MATCH_KEY.c.key_hash, MATCH_KEY.c.identity_id).where(
            among(connection, MATCH_KEY.c.key_hash, wanted))
        return [(int(key), int(identity_id)) for key, identity_id in connection.execute(statement)]

    def key_count(self) -> int:
        """How many keys are stored (figures)."""
        return int(self._connection().execute(select(func.count()).select_from(MATCH_KEY)).scalar_one())

    # -- the detection queue ------------------------------------------------------------------
    def claim_checks(self, limit: int) -> list[QueuedCheck]:
        """The oldest queued changes, locked (PostgreSQL: another job skips them); delete them with
        ``done_checks`` in the same transaction."""
        statement = select(CHECK.c.id, CHECK.c.identity_id).order_by(CHECK.c.id).limit(limit)
        if self._connection().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        return [QueuedCheck(int(i), int(identity)) for i, identity in self._connection().execute(statement)]

    def done_checks(self, check_ids: Sequence[int]) -> None:
        """Remove handled queue rows."""
        if check_ids:
            connection = self._connection()
            connection.execute(delete(CHECK).where(among(connection, CHECK.c.id, check_ids)))

    def queue(self, identity_ids: Sequence[int], at: datetime) -> None:
        """Queue identities for the detection job (besides the change sink: a re-check asked for)."""
        _QUEUE.execute(self._connection(), [{"identity_id": i, "queued_at": at} for i in identity_ids])

    def queued(self) -> int:
        """Changes waiting for the detection job."""
        return int(self._connection().execute(select(func.count()).select_from(CHECK)).scalar_one())

    # -- match records (scans, key rebuilds) ----------------------------------------------------
    def match_records(
        self, after_id: int, limit: int, builder: RecordBuilder | None = None
    ) -> list[MatchRecord]:
        """Active identities with an id above ``after_id``, in id order, as the matcher compares them
        (two statements: the identities, then their INS). A scan passes the same ``builder`` for
        all its pages (each distinct name's features computed once). DOUT/FICT: the INS is not
        compared (RNIV EXI SI 09)."""
        connection = self._connection()
        rows = connection.execute(
            select(*_RECORD_COLUMNS).where(IDENTITY.c.id > after_id, IDENTITY.c.active)
            .order_by(IDENTITY.c.id).limit(limit)
        ).all()
        if not rows:
            return []
        active: dict[int, str] = {}
        history: dict[int, list[str]] = {}
        ins_rows = connection.execute(
            select(INS.c.identity_id, INS.c.matricule, INS.c.active)
            .where(INS.c.identity_id.between(rows[0][0], rows[-1][0]))
        )
        for identity_id, matricule, is_active in ins_rows:
            if is_active:
                active[identity_id] = matricule
            else:
                history.setdefault(identity_id, []).append(matricule)
        build = (builder or RecordBuilder()).record
        records = []
        none: tuple[str, ...] = ()
        for (identity_id, birth_name, first_names, birth_date, completed, sex, place, used_name,
             used_first_name, attributes) in rows:
            attributes = attributes or ""
            ins: str | None = None
            ins_history: Sequence[str] = none
            if "DOUT" not in attributes and "FICT" not in attributes:
                ins, ins_history = active.get(identity_id), history.get(identity_id, none)
            records.append(build(identity_id, birth_name, first_names, birth_date, sex, completed, place,
                                 used_name, used_first_name, ins, ins_history, "HOMA" in attributes))
        return records

    # -- pairs --------------------------------------------------------------------------------
    def pairs_between(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], DuplicatePair]:
        """The stored pairs among these (low, high), by key."""
        wanted = set(keys)
        if not wanted:
            return {}
        connection = self._connection()
        lows, highs = sorted({k[0] for k in wanted}), sorted({k[1] for k in wanted})
        if connection.dialect.name == "postgresql":
            rows = _PAIRS_BETWEEN.execute(connection, {"lows": lows, "highs": highs})
        else:
            rows = connection.execute(select(PAIR).where(PAIR.c.low_id.in_(lows), PAIR.c.high_id.in_(highs)))
        return {(row.low_id, row.high_id): _pair(row) for row in rows if (row.low_id, row.high_id) in wanted}

    def open_pairs_of(self, identity_ids: Sequence[int]) -> list[DuplicatePair]:
        """The open pairs of these identities."""
        if not identity_ids:
            return []
        connection = self._connection()
        either = or_(among(connection, PAIR.c.low_id, identity_ids),
                     among(connection, PAIR.c.high_id, identity_ids))
        statement = select(PAIR).where(PAIR.c.status == "open", either)
        return [_pair(row) for row in connection.execute(statement.order_by(PAIR.c.id))]

    def save_pairs(self, writes: Sequence[PairWrite], at: datetime) -> list[int]:
        """Insert the new pairs and update the others; the pair ids, in the order given."""
        new = [w for w in writes if w.id is None]
        connection = self._connection()
        ids: dict[tuple[int, int], int] = {}
        if new:
            # Copied in (PostgreSQL), then the ids read back by key: an INSERT ... RETURNING per
            # row, or in parameter order, costs ten times more for a scan's thousands of pairs.
            rows = [(w.low_id, w.high_id, w.score, w.grade, w.explanation, w.rules, w.status, w.found_by,
                     at, at) for w in new]
            copy_rows(connection, PAIR, _NEW_PAIR_COLUMNS, rows)
            stored = self.pairs_between((w.low_id, w.high_id) for w in new)
            ids = {key: pair.id for key, pair in stored.items()}
        changed = [{k: v for k, v in _pair_values(w).items() if k not in ("low_id", "high_id")}
                   | {"b_id": w.id, "updated_at": at} for w in writes if w.id is not None]
        _PAIR_UPDATE.execute(connection, changed)
        return [w.id if w.id is not None else ids[w.low_id, w.high_id] for w in writes]

    def get_pair(self, pair_id: int, *, for_update: bool = False) -> DuplicatePair | None:
        """One pair (locked until the end of the transaction with ``for_update``, PostgreSQL)."""
        statement = select(PAIR).where(PAIR.c.id == pair_id)
        if for_update:
            statement = statement.with_for_update()
        row = self._connection().execute(statement).one_or_none()
        return _pair(row) if row is not None else None

    def list_pairs(
        self, *, status: str | None, grade: str | None, limit: int, offset: int
    ) -> list[DuplicatePair]:
        """Pairs, best score first (then oldest first)."""
        statement = select(PAIR)
        if status is not None:
            statement = statement.where(PAIR.c.status == status)
        if grade is not None:
            statement = statement.where(PAIR.c.grade == grade)
        else:
            statement = statement.where(PAIR.c.grade != "no_match")
        statement = statement.order_by(PAIR.c.score.desc(), PAIR.c.id).limit(limit).offset(offset)
        return [_pair(row) for row in self._connection().execute(statement)]

    def pair_counts(self) -> dict[tuple[str, str], int]:
        """Pairs per (status, grade)."""
        rows = self._connection().execute(
            select(PAIR.c.status, PAIR.c.grade, func.count()).group_by(PAIR.c.status, PAIR.c.grade)
        )
        return {(status, grade): int(count) for status, grade, count in rows}

    def decide(self, pair_id: int, *, status: str, reason: str, by: str, at: datetime, digest: str) -> None:
        """Record the cell's decision on a pair (locked: ``get_pair(for_update=True)``)."""
        self._connection().execute(
            update(PAIR).where(PAIR.c.id == pair_id).values(
                status=status, reason=reason, decided_by=by, decided_at=at, decided_digest=digest,
                updated_at=at)
        )

    def drop_pairs(self, pair_ids: Sequence[int]) -> None:
        """Delete pairs that no longer mean anything (an identity of theirs was merged away)."""
        if pair_ids:
            self._connection().execute(delete(PAIR).where(PAIR.c.id.in_(list(pair_ids))))

    # -- scans --------------------------------------------------------------------------------
    def add_scan(self, *, created_by: str, at: datetime, runner: str | None = None) -> ScanJob:
        """A new scan, queued (or already running in ``runner``)."""
        values: dict[str, Any] = {"status": "queued", "created_by": created_by, "created_at": at}
        if runner is not None:
            values |= {"status": "running", "runner": runner, "started_at": at, "heartbeat_at": at}
        statement = insert(SCAN).values(values).returning(SCAN.c.id)
        scan_id = int(self._connection().execute(statement).scalar_one())
        found = self.get_scan(scan_id)
        assert found is not None
        return found

    def get_scan(self, scan_id: int, *, for_update: bool = False) -> ScanJob | None:
        """One scan."""
        statement = select(SCAN).where(SCAN.c.id == scan_id)
        if for_update:
            statement = statement.with_for_update()
        row = self._connection().execute(statement).one_or_none()
        return _scan(row) if row is not None else None

    def active_scan(self) -> ScanJob | None:
        """The oldest scan queued or running, if any."""
        row = self._connection().execute(
            select(SCAN).where(SCAN.c.status.in_(("queued", "running"))).order_by(SCAN.c.id).limit(1)
        ).one_or_none()
        return _scan(row) if row is not None else None

    def next_scan(self, stale_before: datetime) -> ScanJob | None:
        """The oldest scan to run: queued, or running without a heartbeat since ``stale_before``
        (its runner died); locked (PostgreSQL: another worker skips it)."""
        statement = select(SCAN).where(or_(
            SCAN.c.status == "queued",
            (SCAN.c.status == "running") & (SCAN.c.heartbeat_at < stale_before),
        )).order_by(SCAN.c.id).limit(1)
        if self._connection().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        row = self._connection().execute(statement).one_or_none()
        return _scan(row) if row is not None else None

    def start_scan(self, scan_id: int, runner: str, at: datetime) -> None:
        """Mark a scan (locked) running in ``runner``."""
        self._connection().execute(
            update(SCAN).where(SCAN.c.id == scan_id).values(
                status="running", runner=runner, heartbeat_at=at,
                started_at=func.coalesce(SCAN.c.started_at, at))
        )

    def scan_progress(self, scan_id: int, runner: str, at: datetime, **counters: Any) -> bool:
        """Record a scan's progress (and heartbeat); False when ``runner`` no longer holds it."""
        result = self._connection().execute(
            update(SCAN).where(SCAN.c.id == scan_id, SCAN.c.runner == runner, SCAN.c.status == "running")
            .values(heartbeat_at=at, **counters)
        )
        return bool(result.rowcount)

    def finish_scan(self, scan_id: int, runner: str, *, status: str, at: datetime, error: str | None = None,
                    **counters: Any) -> bool:
        """Close a scan ``runner`` holds: done or failed."""
        result = self._connection().execute(
            update(SCAN).where(SCAN.c.id == scan_id, SCAN.c.runner == runner, SCAN.c.status == "running")
            .values(status=status, finished_at=at, heartbeat_at=at, error=error, **counters)
        )
        return bool(result.rowcount)


def add_keys(connection: Connection, keys: Mapping[int, Iterable[int]]) -> None:
    """Insert match keys (identity id -> key hashes), by COPY on PostgreSQL."""
    rows = [(h, identity_id) for identity_id, hashes in keys.items() for h in hashes]
    copy_rows(connection, MATCH_KEY, ("key_hash", "identity_id"), rows)


def _pair_values(write: PairWrite) -> dict[str, Any]:
    return {
        "low_id": write.low_id, "high_id": write.high_id, "score": write.score, "grade": write.grade,
        "explanation": write.explanation, "rules": write.rules, "status": write.status,
        "found_by": write.found_by, "reason": write.reason, "decided_by": write.decided_by,
        "decided_at": write.decided_at, "decided_digest": write.decided_digest,
    }
