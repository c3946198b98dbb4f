"""Batch campaigns: select identities, track progress, pause/resume/cancel, report.

A campaign snapshots its selection into campaign_item rows when it is created; the worker
(app/workers/campaigns.py) claims items one by one. An item ends in exactly one outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, insert, literal, not_, or_, select, update
from sqlmodel import Session, col

from app.db.tables import CampaignItemRow, CampaignRow, IdentityRow, InsRow
from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.messages import register, register_terms
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext
from app.services.errors import NotFound

CELL = (Role.IDENTITOVIGILANCE, Role.ADMIN)

register("campaign-selection-empty", "The campaign selection is empty: give statuses, ids, an age or 'eligible'.",
         "La sélection de la campagne est vide : indiquez des statuts, des identifiants, une ancienneté ou 'eligible'.")
register("campaign-transition", "Cannot {action} a {status} campaign.",
         "Impossible de {action} une campagne {status}.")
register_terms({"pause": "mettre en pause", "resume": "reprendre", "cancel": "annuler"}, parameter="action")
register_terms({"running": "en cours", "paused": "en pause", "cancelled": "annulée", "done": "terminée"},
               parameter="status")


class Operation(StrEnum):
    """What a campaign asks INSi for each identity."""

    RETRIEVE = "retrieve"
    VERIFY = "verify"


class CampaignStatus(StrEnum):
    """Life cycle of a campaign."""

    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


@dataclass(frozen=True)
class Selection:
    """Which identities a campaign covers (criteria are combined)."""

    statuses: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()
    insi_older_than_days: int | None = None
    eligible: bool = False

    def as_json(self) -> dict[str, Any]:
        """Stored with the campaign."""
        return {"statuses": list(self.statuses), "ids": list(self.ids),
                "insi_older_than_days": self.insi_older_than_days, "eligible": self.eligible}


@dataclass(frozen=True)
class Progress:
    """Where a campaign stands."""

    id: int
    name: str
    operation: str
    status: str
    auto_apply: bool
    rate_limit: float | None
    concurrency: int
    total: int
    done: int
    in_flight: int
    outcomes: dict[str, int]
    rate_per_second: float
    eta_seconds: float | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    selection: dict[str, Any] = field(default_factory=dict)


def _selection_query(selection: Selection, operation: Operation, now: datetime) -> Any:
    conditions: list[Any] = [col(IdentityRow.active), IdentityRow.sex != "U",
                             not_(col(IdentityRow.attributes).like("%DOUT%")),
                             not_(col(IdentityRow.attributes).like("%FICT%"))]
    if selection.statuses:
        conditions.append(col(IdentityRow.status).in_(selection.statuses))
    if selection.ids:
        conditions.append(col(IdentityRow.id).in_(selection.ids))
    if selection.eligible:
        conditions.append(col(IdentityRow.status).in_(("PROV", "VALI")))
    if selection.insi_older_than_days is not None:
        limit = now - timedelta(days=selection.insi_older_than_days)
        conditions.append(or_(col(IdentityRow.insi_at).is_(None), col(IdentityRow.insi_at) < limit))
    if operation is Operation.VERIFY:
        has_ins = select(InsRow.id).where(and_(InsRow.identity_id == IdentityRow.id, col(InsRow.active)))
        conditions.append(has_ins.exists())
    return select(IdentityRow.id).where(*conditions)


def create_campaign(
    ctx: ServiceContext, actor: Actor, *, name: str, operation: str, selection: Selection,
    auto_apply: bool = False, rate_limit: float | None = None, concurrency: int = 4,
) -> Progress:
    """Create a campaign and snapshot its identities (DOUT/FICT and sex U are never selected)."""
    require_any(actor.roles, *CELL)
    try:
        op = Operation(operation)
    except ValueError:
        raise InvalidTrait("campaign-operation", field="operation", value=str(operation)[:20]) from None
    if not (selection.statuses or selection.ids or selection.eligible or selection.insi_older_than_days is not None):
        raise InvalidTrait("campaign-selection-empty", field="selection")
    with ctx.unit_of_work(actor) as uow:
        row = CampaignRow(name=name, operation=op.value, selection=selection.as_json(), auto_apply=auto_apply,
                          rate_limit=rate_limit, concurrency=concurrency, status=CampaignStatus.RUNNING.value,
                          created_by=actor.subject, created_at=ctx.now())
        uow.session.add(row)
        uow.session.flush()
        ids = _selection_query(selection, op, ctx.now()).add_columns(literal(row.id), literal("pending"))
        uow.session.execute(insert(CampaignItemRow).from_select(["identity_id", "campaign_id", "state"], ids))
        row.total = uow.session.execute(
            select(func.count()).where(CampaignItemRow.campaign_id == row.id)).scalar_one()
        uow.session.add(row)
        uow.audit("campaign.created", None, None, {"campaign": row.id, "operation": op.value,
                  "total": row.total, "auto_apply": auto_apply}, full=True)
        uow.commit()
        campaign_id = row.id or 0
    return progress(ctx, actor, campaign_id)


register("campaign-operation", "Unknown campaign operation {value}: use retrieve or verify.",
         "Opération de campagne inconnue {value} : utilisez retrieve ou verify.")


def progress(ctx: ServiceContext, actor: Actor, campaign_id: int) -> Progress:
    """Done/total, outcomes, rate over the last minute and ETA."""
    require_any(actor.roles, *CELL)
    with Session(ctx.engine) as session:
        row = session.get(CampaignRow, campaign_id)
        if row is None:
            raise NotFound(what="Campaign", ident=campaign_id)
        by_state = dict(session.execute(
            select(CampaignItemRow.state, func.count()).where(CampaignItemRow.campaign_id == campaign_id)
            .group_by(CampaignItemRow.state)).all())
        outcomes = dict(session.execute(
            select(CampaignItemRow.outcome, func.count())
            .where(CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.state == "done")
            .group_by(CampaignItemRow.outcome)).all())
        since = ctx.now() - timedelta(seconds=60)
        recent = session.execute(select(func.count()).where(
            CampaignItemRow.campaign_id == campaign_id, col(CampaignItemRow.finished_at) >= since)).scalar_one()
    done = int(by_state.get("done", 0))
    rate = recent / 60.0
    remaining = row.total - done
    eta = (remaining / rate) if rate > 0 and remaining else (0.0 if not remaining else None)
    return Progress(row.id or 0, row.name, row.operation, row.status, row.auto_apply, row.rate_limit,
                    row.concurrency, row.total, done, int(by_state.get("in_flight", 0)),
                    {str(k): int(v) for k, v in outcomes.items()}, rate, eta, row.created_by, row.created_at,
                    row.finished_at, dict(row.selection))


_TRANSITIONS = {
    "pause": ({CampaignStatus.RUNNING}, CampaignStatus.PAUSED),
    "resume": ({CampaignStatus.PAUSED}, CampaignStatus.RUNNING),
    "cancel": ({CampaignStatus.RUNNING, CampaignStatus.PAUSED}, CampaignStatus.CANCELLED),
}


def change_status(ctx: ServiceContext, actor: Actor, campaign_id: int, action: str, reason: str | None = None) -> Progress:
    """Pause, resume or cancel a campaign (the worker notices before its next call)."""
    require_any(actor.roles, *CELL)
    allowed, target = _TRANSITIONS[action]
    with ctx.unit_of_work(actor) as uow:
        row = uow.session.get(CampaignRow, campaign_id, with_for_update=True)
        if row is None:
            raise NotFound(what="Campaign", ident=campaign_id)
        if CampaignStatus(row.status) not in allowed:
            raise RuleViolation("campaign-transition", status=row.status, action=action)
        row.status = target.value
        if target is CampaignStatus.CANCELLED:
            row.finished_at = ctx.now()
            uow.session.execute(update(CampaignItemRow).where(
                CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.state == "pending")
                .values(state="done", outcome="cancelled", finished_at=ctx.now()))
        uow.session.add(row)
        uow.audit(f"campaign.{action}", None, None, {"campaign": campaign_id}, reason, full=True)
        uow.commit()
    return progress(ctx, actor, campaign_id)


def report(ctx: ServiceContext, actor: Actor, campaign_id: int) -> list[dict[str, Any]]:
    """One row per identity with its outcome."""
    require_any(actor.roles, *CELL)
    with Session(ctx.engine) as session:
        if session.get(CampaignRow, campaign_id) is None:
            raise NotFound(what="Campaign", ident=campaign_id)
        rows = session.execute(
            select(CampaignItemRow, IdentityRow.ipp)
            .join(IdentityRow, IdentityRow.id == CampaignItemRow.identity_id)
            .where(CampaignItemRow.campaign_id == campaign_id).order_by(col(CampaignItemRow.id))
        ).all()
    return [
        {"identity_id": item.identity_id, "ipp": ipp, "state": item.state, "outcome": item.outcome or "",
         "code": item.code or "", "attempts": item.attempts,
         "finished_at": item.finished_at.isoformat() if item.finished_at else "",
         "worklist_item_id": item.worklist_item_id or ""}
        for item, ipp in rows
    ]


def list_campaigns(ctx: ServiceContext, actor: Actor) -> list[Progress]:
    """Every campaign, newest first."""
    require_any(actor.roles, *CELL)
    with Session(ctx.engine) as session:
        ids = session.execute(select(CampaignRow.id).order_by(col(CampaignRow.id).desc()).limit(100)).scalars().all()
    return [progress(ctx, actor, i) for i in ids]
