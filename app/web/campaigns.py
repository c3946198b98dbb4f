"""The cell's INSi pages: batch campaigns (list, create, live progress, pause/resume/cancel, report)
and the INSi call journal (filters, pages, newest first). The services check the roles and the
campaign's life cycle; handlers read the forms and shape what the services return.

No patient trait travels in an address: the journal's filters (dates, outcome, identity number,
caller) are not traits and may be GET parameters; the access log drops query strings anyway.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from app.api.routers.campaigns import report_csv
from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.roles import require_any
from app.services import campaigns, insi
from app.services.campaigns import Progress, Selection
from app.services.insi import InsiCallFilters
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.i18n import TEXT, Words
from app.web.views import show_date

router = APIRouter()
STATUSES = ("PROV", "RECUP", "VALI", "QUAL")
JOURNAL_PAGE = 50
_IDS = re.compile(r"[\s,;]+")


def word_or(words: Words, key: str, default: str) -> str:
    """A label when the words have one, the code as it is otherwise."""
    return words(key) if key in TEXT else default


def show_duration(seconds: float, words: Words) -> str:
    """A duration in seconds, minutes, or hours and minutes."""
    if seconds < 90:
        return words("duration_s", n=round(seconds))
    if seconds < 5400:
        return words("duration_min", n=round(seconds / 60))
    return words("duration_h", h=int(seconds // 3600), m=round(seconds % 3600 / 60))


def percent(p: Progress) -> int:
    """The share of items processed, in whole percent (100 only when all are)."""
    if not p.total:
        return 100
    return 100 if p.done >= p.total else min(99, p.done * 100 // p.total)


def _view(request: Request) -> dict[str, Any]:
    words: Words = request.app.state.words
    return {"percent": percent, "show_date": lambda value: show_date(value, words),
            "outcome_label": lambda code: word_or(words, f"oc_{code}", code),
            "eta": lambda p: show_duration(p.eta_seconds, words), "actions_for": campaigns.actions_for}


def _list_page(request: Request, ctx: Any, actor: Any, *, status: int = 200, error: str | None = None,
               form: dict[str, Any] | None = None) -> Response:
    q = request.app.state.settings.qualification
    return render(request, "campaigns.html", status_code=status, items=campaigns.list_campaigns(ctx, actor),
                  error=error, form=form or {}, statuses=STATUSES, default_rate=q.campaign_rate_limit,
                  default_concurrency=q.campaign_concurrency, **_view(request))


@router.get("/cell/campaigns", name="campaigns")
def campaign_list(request: Request, actor: ActorDep, ctx: CtxDep) -> Response:
    """Every campaign, newest first, and the form of a new one."""
    return _list_page(request, ctx, actor)


def _number(text: str, words: Words, kind: type[int] | type[float]) -> int | float | None:
    if not text.strip():
        return None
    try:
        value = kind(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(words("campaign_bad_number", value=text.strip()[:20])) from None
    if value < 0:
        raise ValueError(words("campaign_bad_number", value=text.strip()[:20]))
    return value


@router.post("/cell/campaigns", name="campaign_create")
def campaign_create(
    request: Request, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
    name: Annotated[str, Form(max_length=200)] = "",
    operation: Annotated[str, Form(max_length=10)] = "retrieve",
    statuses: Annotated[list[str] | None, Form()] = None,
    eligible: Annotated[str, Form(max_length=5)] = "",
    ids: Annotated[str, Form(max_length=20_000)] = "",
    older_than_days: Annotated[str, Form(max_length=10)] = "",
    auto_apply: Annotated[str, Form(max_length=5)] = "",
    rate_limit: Annotated[str, Form(max_length=10)] = "",
    concurrency: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Create a campaign (the worker runs it) and open its page; the form again with the message."""
    words: Words = request.app.state.words
    q = request.app.state.settings.qualification
    picked = [s for s in (statuses or []) if s in STATUSES]
    form = {"name": name, "operation": operation, "statuses": picked, "eligible": bool(eligible), "ids": ids,
            "older_than_days": older_than_days, "auto_apply": bool(auto_apply), "rate_limit": rate_limit,
            "concurrency": concurrency}
    try:
        if not name.strip():
            raise ValueError(words("campaign_name_missing"))
        id_list = [i for i in _IDS.split(ids.strip()) if i]
        if not all(i.isdigit() for i in id_list) or len(id_list) > 100_000:
            raise ValueError(words("campaign_bad_ids", value=next((i for i in id_list if not i.isdigit()),
                                                                    "")[:20]))
        older = _number(older_than_days, words, int)
        rate = _number(rate_limit, words, float)
        parallel = _number(concurrency, words, int)
        if parallel is not None and not 1 <= parallel <= 64:
            raise ValueError(words("campaign_bad_number", value=concurrency.strip()[:20]))
        selection = Selection(tuple(picked), tuple(int(i) for i in id_list),
                              None if older is None else int(older), bool(eligible))
        created = campaigns.create_campaign(
            ctx, actor, name=name.strip(), operation=operation, selection=selection,
            auto_apply=bool(auto_apply),
            rate_limit=rate if rate is not None else q.campaign_rate_limit,
            concurrency=int(parallel) if parallel is not None else q.campaign_concurrency)
    except ValueError as exc:
        return _list_page(request, ctx, actor, status=422, error=str(exc), form=form)
    except InvalidTrait as exc:
        return _list_page(request, ctx, actor, status=422, error=exc.message(words.language), form=form)
    request.state.session.flash = words("campaign_created_flash", n=created.id, total=created.total)
    return RedirectResponse(f"{PREFIX}/cell/campaigns/{created.id}", status_code=303)


def _campaign_page(request: Request, p: Progress, *, status: int = 200, error: str | None = None) -> Response:
    return render(request, "campaign.html", status_code=status, p=p, error=error, **_view(request))


@router.get("/cell/campaigns/{campaign_id}", name="campaign")
def campaign_page(request: Request, campaign_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """A campaign: its settings, its live progress, its actions and its report."""
    return _campaign_page(request, campaigns.progress(ctx, actor, campaign_id))


@router.get("/cell/campaigns/{campaign_id}/progress", name="campaign_progress")
def campaign_progress(request: Request, campaign_id: int, actor: ActorDep, ctx: CtxDep,
                      shown: Annotated[str, Query(max_length=10)] = "") -> Response:
    """The progress fragment (htmx polling; it stops polling once the campaign is over). When the
    campaign's state is no longer the one the page shows (done, or paused or cancelled by someone
    else), the whole page is reloaded so that its actions match the new state."""
    p = campaigns.progress(ctx, actor, campaign_id)
    if shown and shown != p.status:
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return render(request, "_campaign_progress.html", p=p, **_view(request))


@router.post("/cell/campaigns/{campaign_id}/{action}", name="campaign_action")
def campaign_action(
    request: Request, campaign_id: int, action: Literal["pause", "resume", "cancel"], actor: ActorDep,
    ctx: CtxDep, _: CsrfDep, reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Pause, resume or cancel; the page again with the service's message when refused."""
    words: Words = request.app.state.words
    try:
        p = campaigns.change_status(ctx, actor, campaign_id, action, reason.strip() or None)
    except RuleViolation as exc:
        return _campaign_page(request, campaigns.progress(ctx, actor, campaign_id), status=409,
                              error=exc.message(words.language))
    request.state.session.flash = words("campaign_changed", n=campaign_id, status=words(f"cst_{p.status}"))
    return RedirectResponse(f"{PREFIX}/cell/campaigns/{campaign_id}", status_code=303)


@router.get("/cell/campaigns/{campaign_id}/report.csv", name="campaign_report")
def campaign_report(campaign_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """The report as the API gives it in CSV (one line per identity: internal number, IPP, outcome)."""
    text = report_csv(campaigns.report(ctx, actor, campaign_id))
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})


# -- the INSi call journal -----------------------------------------------------------------------

def _day(text: str, words: Words) -> date | None:
    """A date typed JJ/MM/AAAA or sent AAAA-MM-JJ by a date field; None when empty."""
    value = text.strip()
    if not value:
        return None
    try:
        if "/" in value:
            d, m, y = value.split("/")
            return date(int(y), int(m), int(d))
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(words("journal_bad_date", value=value[:20])) from None


def _journal_filters(words: Words, since: str, until: str, outcome: str, identity: str,
                     caller: str) -> InsiCallFilters:
    start, end = _day(since, words), _day(until, words)
    number = identity.strip()
    if number and not number.isdigit():
        raise ValueError(words("journal_bad_number", value=number[:20]))
    return InsiCallFilters(
        requested_by=caller.strip() or None, identity_id=int(number) if number else None,
        outcome=outcome.strip() or None,
        since=datetime.combine(start, time(), UTC) if start else None,
        until=datetime.combine(end + timedelta(days=1), time(), UTC) if end else None)


@router.get("/cell/insi-calls", name="insi_journal")
def insi_journal(
    request: Request, actor: ActorDep, ctx: CtxDep,
    since: Annotated[str, Query(max_length=10)] = "", until: Annotated[str, Query(max_length=10)] = "",
    outcome: Annotated[str, Query(max_length=40)] = "", identity: Annotated[str, Query(max_length=12)] = "",
    caller: Annotated[str, Query(max_length=200)] = "", page: Annotated[int, Query(ge=1, le=2000)] = 1,
) -> Response:
    """The journal, newest first, JOURNAL_PAGE calls a page."""
    words: Words = request.app.state.words
    require_any(actor.roles, *insi.JOURNAL_READERS)  # the service's own check, before any filter message
    form = {"since": since, "until": until, "outcome": outcome, "identity": identity, "caller": caller}
    error, calls, more = None, [], False
    try:
        filters = _journal_filters(words, since, until, outcome, identity, caller)
    except ValueError as exc:
        error = str(exc)
    else:
        rows = insi.list_insi_calls(ctx, actor, filters, limit=JOURNAL_PAGE + 1,
                                    offset=(page - 1) * JOURNAL_PAGE)
        calls, more = rows[:JOURNAL_PAGE], len(rows) > JOURNAL_PAGE
    query = urlencode({k: v for k, v in form.items() if v})
    return render(request, "insi_calls.html", status_code=422 if error else 200, calls=calls, more=more,
                  page=page, form=form, error=error, query=query,
                  outcomes=[("00", words("col_00")), ("01", words("col_01")), ("02", words("col_02"))],
                  show_date=lambda value: show_date(value, words))
