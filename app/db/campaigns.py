"""Batch INSi campaigns and their items: the campaigns, the runners' claims and leases, the outcomes.

An item is ``pending``, ``in_flight`` (claimed by a runner, ``claimed_at`` being its last lease
renewal) or ``done`` with one outcome. Every statement on an item in flight requires it to be still
in flight: only its owner, or the recovery of an expired lease, moves it out of that state, and a
runner learns it lost an item from a row count of 0.

The item statements of the runner's hot path (claim, lease renewal, outcome) are built once, here:
building them cost more client CPU than running them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, literal, not_, or_, select, update
from sqlmodel import Session

from app.db.identity_rows import IDENTITY, INS
from app.db.tables import CampaignItemRow, CampaignRow

ITEM = CampaignItemRow.__table__  # type: ignore[attr-defined]
CAMPAIGN = CampaignRow.__table__  # type: ignore[attr-defined]
RUNNING = "running"  # the campaign status whose items may be claimed

_NEXT_PENDING = (
    select(ITEM.c.id)
    .where(ITEM.c.campaign_id == bindparam("campaign"), ITEM.c.state == "pending")
    .order_by(ITEM.c.id)
    .limit(1)
)
_CAMPAIGN_RUNNING = (
    select(CAMPAIGN.c.status).where(CAMPAIGN.c.id == bindparam("campaign")).scalar_subquery() == RUNNING
)


def _claim(next_pending: Any) -> Any:
    return (
        update(ITEM)
        .where(ITEM.c.id == next_pending.scalar_subquery(), ITEM.c.state == "pending", _CAMPAIGN_RUNNING)
        .values(state="in_flight", claimed_at=bindparam("now"), attempts=ITEM.c.attempts + 1)
        .returning(ITEM.c.id, ITEM.c.identity_id, ITEM.c.attempts)
    )


# PostgreSQL: runners sharing the database skip the items another one is claiming.
_CLAIM = {"postgresql": _claim(_NEXT_PENDING.with_for_update(skip_locked=True)), "": _claim(_NEXT_PENDING)}
_IN_FLIGHT = (ITEM.c.id == bindparam("item"), ITEM.c.state == "in_flight")
_FINISH = (
    update(ITEM)
    .where(*_IN_FLIGHT)
    .values(state="done", outcome=bindparam("outcome"), code=bindparam("code"),
            worklist_item_id=bindparam("worklist"), finished_at=bindparam("now"))
)
_FINISH_EXPIRED = _FINISH.where(ITEM.c.claimed_at < bindparam("limit"))
_RENEW = (
    update(ITEM)
    .where(ITEM.c.id.in_(bindparam("items", expanding=True)), ITEM.c.state == "in_flight")
    .values(claimed_at=bindparam("now"))
    .returning(ITEM.c.id)
)
_ATTEMPT = update(ITEM).where(*_IN_FLIGHT).values(claimed_at=bindparam("now"), attempts=bindparam("attempts"))
_RELEASE = update(ITEM).where(*_IN_FLIGHT).values(state="pending", claimed_at=None,
                                                   attempts=bindparam("attempts"))


@dataclass(frozen=True)
class Campaign:
    """A campaign as stored: what it asks, how it is paced, where its life cycle stands."""

    id: int
    name: str
    operation: str
    status: str
    auto_apply: bool
    rate_limit: float | None
    concurrency: int
    total: int
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    selection: dict[str, Any]


@dataclass(frozen=True)
class ClaimedItem:
    """An item in flight: its identity, and the calls counted for it (this claim's included)."""

    item_id: int
    identity_id: int
    attempts: int


@dataclass(frozen=True)
class ItemCounts:
    """A campaign's items per state, per outcome (done ones), and those finished since a moment."""

    by_state: dict[str, int]
    outcomes: dict[str, int]
    finished_since: int


@dataclass(frozen=True)
class ReportLine:
    """One item of a campaign's report."""

    identity_id: int
    ipp: str | None
    state: str
    outcome: str | None
    code: str | None
    attempts: int
    finished_at: datetime | None
    worklist_item_id: int | None


@dataclass(frozen=True)
class IdentityFilter:
    """Which identities a campaign takes: every criterion given holds (None or empty: any)."""

    statuses: frozenset[str] | None = None
    ids: tuple[int, ...] = ()
    insi_before: datetime | None = None  # never sent to INSi, or last sent before this moment
    with_active_ins: bool = False


def _campaign(row: Any) -> Campaign:
    return Campaign(row.id, row.name, row.operation, row.status, row.auto_apply, row.rate_limit,
                    row.concurrency, row.total, row.created_by, row.created_at, row.finished_at,
                    dict(row.selection))


def _identities(which: IdentityFilter) -> Any:
    """The ids of the identities a campaign takes; never inactive, DOUT or FICT ones, nor sex U."""
    conditions: list[Any] = [IDENTITY.c.active, IDENTITY.c.sex != "U",
                             not_(IDENTITY.c.attributes.like("%DOUT%")),
                             not_(IDENTITY.c.attributes.like("%FICT%"))]
    if which.statuses is not None:
        conditions.append(IDENTITY.c.status.in_(sorted(which.statuses)))
    if which.ids:
        conditions.append(IDENTITY.c.id.in_(which.ids))
    if which.insi_before is not None:
        insi_at = IDENTITY.c.insi_at
        conditions.append(or_(insi_at.is_(None), insi_at < which.insi_before))
    if which.with_active_ins:
        has_ins = select(INS.c.id).where(and_(INS.c.identity_id == IDENTITY.c.id, INS.c.active))
        conditions.append(has_ins.exists())
    return select(IDENTITY.c.id).where(*conditions)


class CampaignRepository:
    """Batch INSi campaigns and their items (claims, leases, outcomes)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _run(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        """A Core statement on the transaction's connection (no ORM execution layer)."""
        return self._session.connection().execute(statement, params)

    # -- campaigns -----------------------------------------------------------------------------
    def add(self, *, name: str, operation: str, selection: dict[str, Any], auto_apply: bool,
            rate_limit: float | None, concurrency: int, created_by: str, at: datetime,
            identities: IdentityFilter) -> Campaign:
        """A new running campaign, with one pending item per identity it takes (its snapshot)."""
        row = CampaignRow(name=name, operation=operation, selection=selection, auto_apply=auto_apply,
                          rate_limit=rate_limit, concurrency=concurrency, status=RUNNING,
                          created_by=created_by, created_at=at)
        self._session.add(row)
        self._session.flush()
        ids = _identities(identities).add_columns(literal(row.id), literal("pending"))
        columns = ["identity_id", "campaign_id", "state"]
        self._session.execute(insert(CampaignItemRow).from_select(columns, ids))
        row.total = self._session.execute(
            select(func.count()).where(ITEM.c.campaign_id == row.id)).scalar_one()
        self._session.add(row)
        self._session.flush()
        return _campaign(row)

    def get(self, campaign_id: int, *, for_update: bool = False) -> Campaign | None:
        """One campaign (locked until the end of the transaction with ``for_update``)."""
        stmt = select(CAMPAIGN).where(CAMPAIGN.c.id == campaign_id)
        row = self._run(stmt.with_for_update() if for_update else stmt).first()
        return _campaign(row) if row is not None else None

    def ids(self, *, status: str | None = None, limit: int | None = None) -> list[int]:
        """Campaign ids (of one status), oldest first, or the ``limit`` newest, newest first."""
        stmt = select(CAMPAIGN.c.id)
        if status is not None:
            stmt = stmt.where(CAMPAIGN.c.status == status)
        if limit is None:
            return list(self._run(stmt.order_by(CAMPAIGN.c.id)).scalars())
        stmt = stmt.order_by(CAMPAIGN.c.id.desc()).limit(limit)
        return list(self._run(stmt).scalars())

    def set_status(self, campaign_id: int, status: str, *, finished_at: datetime | None = None) -> None:
        """Record a campaign's new status (and when it ended, for a final one)."""
        values: dict[str, Any] = {"status": status}
        if finished_at is not None:
            values["finished_at"] = finished_at
        self._run(update(CAMPAIGN).where(CAMPAIGN.c.id == campaign_id).values(**values))

    def replace_status(self, campaign_id: int, current: str, new: str) -> bool:
        """Move a campaign from ``current`` to ``new`` status in one statement; False if it was not."""
        stmt = update(CAMPAIGN).where(CAMPAIGN.c.id == campaign_id, CAMPAIGN.c.status == current)
        return bool(self._run(stmt.values(status=new)).rowcount)

    # -- items: progress and report -----------------------------------------------------------
    def counts(self, campaign_id: int, finished_since: datetime) -> ItemCounts:
        """Items per state, outcomes of the done ones, and how many finished since a moment."""
        of_campaign = ITEM.c.campaign_id == campaign_id
        by_state = self._run(select(ITEM.c.state, func.count()).where(of_campaign)
                             .group_by(ITEM.c.state)).all()
        outcomes = self._run(select(ITEM.c.outcome, func.count()).where(of_campaign, ITEM.c.state == "done")
                             .group_by(ITEM.c.outcome)).all()
        recent = self._run(select(func.count()).where(of_campaign, ITEM.c.finished_at >= finished_since))
        return ItemCounts({str(k): int(v) for k, v in by_state}, {str(k): int(v) for k, v in outcomes},
                          int(recent.scalar_one()))

    def left(self, campaign_id: int) -> int:
        """How many items of a campaign have no outcome yet."""
        return int(self._run(select(func.count()).where(ITEM.c.campaign_id == campaign_id,
                                                        ITEM.c.state != "done")).scalar_one())

    def report(self, campaign_id: int) -> list[ReportLine]:
        """Every item of a campaign with its identity's IPP, in the order of the snapshot."""
        rows = self._run(
            select(ITEM.c.identity_id, IDENTITY.c.ipp, ITEM.c.state, ITEM.c.outcome, ITEM.c.code,
                   ITEM.c.attempts, ITEM.c.finished_at, ITEM.c.worklist_item_id)
            .join(IDENTITY, IDENTITY.c.id == ITEM.c.identity_id)
            .where(ITEM.c.campaign_id == campaign_id).order_by(ITEM.c.id))
        return [ReportLine(*row) for row in rows]

    def cancel_pending(self, campaign_id: int, at: datetime) -> None:
        """Close every pending item of a campaign as ``cancelled``."""
        self._run(update(ITEM).where(ITEM.c.campaign_id == campaign_id, ITEM.c.state == "pending")
                  .values(state="done", outcome="cancelled", finished_at=at))

    # -- items: the runners --------------------------------------------------------------------
    def claim_next(self, campaign_id: int, at: datetime) -> ClaimedItem | None:
        """Put the next pending item of a running campaign in flight (one statement), counting a call."""
        connection = self._session.connection()
        claim = _CLAIM.get(connection.dialect.name, _CLAIM[""])
        row = connection.execute(claim, {"campaign": campaign_id, "now": at}).first()
        return ClaimedItem(row[0], row[1], row[2]) if row is not None else None

    def renew(self, item_ids: list[int], at: datetime) -> set[int]:
        """Renew the leases of these items; the ids of those still in flight (the others are lost)."""
        return set(self._run(_RENEW, {"items": item_ids, "now": at}).scalars())

    def count_attempt(self, item_id: int, attempts: int, at: datetime) -> bool:
        """Record an item's call count and renew its lease; False if it is no longer in flight."""
        return bool(self._run(_ATTEMPT, {"item": item_id, "now": at, "attempts": attempts}).rowcount)

    def release(self, item_id: int, attempts: int) -> bool:
        """Put an item in flight back to pending with its call count; False if it no longer was."""
        return bool(self._run(_RELEASE, {"item": item_id, "attempts": attempts}).rowcount)

    def finish(self, item_id: int, outcome: str, code: str | None, worklist_item_id: int | None,
               at: datetime) -> bool:
        """Write an item's outcome if it is still in flight; False (nothing written) otherwise."""
        return bool(self._run(_FINISH, {"item": item_id, "outcome": outcome, "code": code,
                                        "worklist": worklist_item_id, "now": at}).rowcount)

    def expired(self, campaign_id: int, renewed_before: datetime) -> list[ClaimedItem]:
        """Items in flight whose lease was last renewed before a moment (their runner is gone)."""
        rows = self._run(select(ITEM.c.id, ITEM.c.identity_id, ITEM.c.attempts).where(
            ITEM.c.campaign_id == campaign_id, ITEM.c.state == "in_flight",
            ITEM.c.claimed_at < renewed_before))
        return [ClaimedItem(*row) for row in rows]

    def finish_expired(self, item_id: int, outcome: str, renewed_before: datetime, at: datetime) -> bool:
        """Write an item's outcome only if its lease is still expired (a heartbeat keeps it otherwise)."""
        params = {"item": item_id, "outcome": outcome, "code": None, "worklist": None, "now": at,
                  "limit": renewed_before}
        return bool(self._run(_FINISH_EXPIRED, params).rowcount)

    def link_worklist_item(self, item_id: int, worklist_item_id: int) -> None:
        """Point a done item at the worklist item its outcome opened."""
        self._run(update(ITEM).where(ITEM.c.id == item_id).values(worklist_item_id=worklist_item_id))
