"""Integration and administration pages: subscribers (INS-ready switch and its replay progress,
pause/resume, queue depth and oldest pending age), dead letters (retry, skip with a reason) and
quarantined inbound messages (view, re-run as received or fixed, discard with a reason).

Same services and roles as the API's HL7 routes (app/api/routers/hl7.py): subscribers, queues and
dead letters are the administrators'; quarantine is also the cell's. URLs carry ids only: a
quarantined message's text (patient traits) is shown in the page, never in an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from app.api.errors import status_for
from app.db.outbox import QueueStats
from app.db.replays import ReplayJob
from app.domain.errors import DomainError, NotAllowed
from app.services import outbox_ops, quarantine, replay, subscribers
from app.services.context import Actor, ServiceContext
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.i18n import Words
from app.web.views import show_date

router = APIRouter()
PAGE = 50
_Reason = Annotated[str, Form(max_length=1000)]
_Page = Annotated[int, Query(ge=0, le=100_000)]


@dataclass(frozen=True)
class Progress:
    """A replay job as the page shows it."""

    id: int
    scope: str
    state: str
    done: int
    total: int
    percent: int
    running: bool
    started: str
    finished: str


def progress_of(job: ReplayJob, words: Words) -> Progress:
    """Done / total and the percentage: 100 % once the job is done (even with nothing to send), at
    most 99 % while it runs (its last step, which finds nothing more, has not happened yet)."""
    running = job.state == "running"
    percent = min(99, job.enqueued * 100 // job.total) if job.total else 0
    if job.state == "done":
        percent = 100
    return Progress(job.id, words.of(SCOPE_LABELS, job.scope), words.of(JOB_STATE_LABELS, job.state),
                    job.enqueued, job.total, percent, running, show_date(job.created_at, words),
                    show_date(job.finished_at, words))


def age_text(seconds: float, words: Words) -> str:
    """An age in days, hours, minutes and seconds (the two largest units)."""
    left = int(seconds)
    if left <= 0:
        return "—"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size} {unit if words.language == 'en' or unit != 'd' else 'j'}")
            left %= size
    return " ".join(parts[:2])


SCOPE_LABELS = {"qual": ("INS qualifiées (passage INS-ready)", "Qualified INS (INS-ready switch)"),
                "held": ("identités détenues", "held identities"),
                "identity": ("une identité", "one identity"), "range": ("période", "time range")}
JOB_STATE_LABELS = {"running": ("en cours", "running"), "done": ("terminé", "done"),
                    "cancelled": ("annulé", "cancelled")}


def _queues(ctx: ServiceContext, actor: Actor) -> dict[int, QueueStats]:
    return {s.subscriber_id: s for s in outbox_ops.queue_overview(ctx, actor)}


def _queue_view(stats: QueueStats | None, now: datetime, words: Words) -> dict[str, object]:
    if stats is None:
        return {"pending": 0, "dead": 0, "age": "—"}
    return {"pending": stats.pending, "dead": stats.dead,
            "age": age_text(outbox_ops.oldest_age_seconds(stats, now), words)}


@router.get("/admin", name="admin")
def admin_home(request: Request, actor: ActorDep, ctx: CtxDep) -> Response:
    """Subscribers with their format, state and queue; links to dead letters and quarantine."""
    words = request.app.state.words
    rows = subscribers.list_subscribers(ctx, actor)
    queues, now = _queues(ctx, actor), ctx.now()
    listed = [{"s": s, "queue": _queue_view(queues.get(s.id), now, words)} for s in rows]
    dead = sum(q.dead for q in queues.values())
    return render(request, "admin.html", subscribers=listed, dead=dead)


def _subscriber_page(request: Request, ctx: ServiceContext, actor: Actor, subscriber_id: int, *,
                     status: int = 200, error: str | None = None) -> Response:
    words = request.app.state.words
    subscriber = subscribers.get_subscriber(ctx, actor, subscriber_id)
    queue = _queue_view(_queues(ctx, actor).get(subscriber_id), ctx.now(), words)
    jobs = [progress_of(j, words) for j in replay.replay_progress(ctx, actor, subscriber_id)]
    return render(request, "subscriber.html", status_code=status, s=subscriber, queue=queue, jobs=jobs,
                  polling=any(j.running for j in jobs), error=error)


@router.get("/admin/subscribers/{subscriber_id}", name="subscriber")
def subscriber_page(request: Request, subscriber_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """One subscriber: connection, format, queue, replay jobs with their progress, the switches."""
    return _subscriber_page(request, ctx, actor, subscriber_id)


@router.get("/admin/subscribers/{subscriber_id}/replay", name="replay_progress")
def replay_fragment(request: Request, subscriber_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """The replay progress (htmx polls it every second while a job runs; the last answer stops it)."""
    words = request.app.state.words
    jobs = [progress_of(j, words) for j in replay.replay_progress(ctx, actor, subscriber_id)]
    return render(request, "_replay.html", s=subscribers.get_subscriber(ctx, actor, subscriber_id), jobs=jobs,
                  polling=any(j.running for j in jobs))


def _refused(request: Request, ctx: ServiceContext, actor: Actor, subscriber_id: int,
             exc: DomainError) -> Response:
    if isinstance(exc, NotAllowed):
        raise exc
    return _subscriber_page(request, ctx, actor, subscriber_id, status=status_for(exc) or 400,
                            error=exc.message(request.app.state.words.language))


@router.post("/admin/subscribers/{subscriber_id}/ins-ready", name="ins_ready")
def ins_ready(request: Request, subscriber_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep) -> Response:
    """Switch to the INS-ready format; the replay of its QUAL identities starts."""
    rate = float(request.app.state.settings.hl7.replay_rate_per_second)
    try:
        subscribers.switch_ins_ready(ctx, actor, subscriber_id, rate_per_second=rate)
    except DomainError as exc:
        return _refused(request, ctx, actor, subscriber_id, exc)
    request.state.session.flash = request.app.state.words("ins_ready_done")
    return RedirectResponse(f"{PREFIX}/admin/subscribers/{subscriber_id}", status_code=303)


@router.post("/admin/subscribers/{subscriber_id}/{action}", name="subscriber_pause")
def pause_resume(request: Request, subscriber_id: int, action: str, actor: ActorDep, ctx: CtxDep,
                 _: CsrfDep) -> Response:
    """Pause (messages keep queueing) or resume deliveries."""
    if action not in ("pause", "resume"):
        return render(request, "error.html", status_code=404, message=request.app.state.words("not_found"),
                      title=None)
    try:
        subscribers.set_paused(ctx, actor, subscriber_id, action == "pause")
    except DomainError as exc:
        return _refused(request, ctx, actor, subscriber_id, exc)
    request.state.session.flash = request.app.state.words("paused" if action == "pause" else "resumed")
    return RedirectResponse(f"{PREFIX}/admin/subscribers/{subscriber_id}", status_code=303)


def _dead_page(request: Request, ctx: ServiceContext, actor: Actor, page: int, subscriber: int | None, *,
               status: int = 200, error: str | None = None, failed: int | None = None,
               reason: str = "") -> Response:
    words = request.app.state.words
    found = outbox_ops.dead_letters(ctx, actor, subscriber, limit=PAGE + 1, offset=page * PAGE)
    names = {s.id: s.name for s in subscribers.list_subscribers(ctx, actor)}
    return render(request, "dead_letters.html", status_code=status, rows=found[:PAGE],
                  more=len(found) > PAGE, page=page, subscriber=subscriber, names=names, error=error,
                  failed=failed, reason=reason,
                  show_date=lambda value: show_date(value, words))


@router.get("/admin/dead-letters", name="dead_letters")
def dead_letters(request: Request, actor: ActorDep, ctx: CtxDep, page: _Page = 0,
                 subscriber: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """Dead letters, oldest first (each blocks its identity's stream for its subscriber)."""
    return _dead_page(request, ctx, actor, page, subscriber)


@router.post("/admin/dead-letters/{message_id}/{action}", name="dead_letter_action")
def dead_letter_action(request: Request, message_id: int, action: str, actor: ActorDep, ctx: CtxDep,
                       _: CsrfDep, reason: _Reason = "") -> Response:
    """Retry a dead letter (same MSH-10) or skip it with a reason."""
    words = request.app.state.words
    try:
        if action == "retry":
            outbox_ops.retry_dead_letter(ctx, actor, message_id)
        elif action == "skip":
            outbox_ops.skip_dead_letter(ctx, actor, message_id, reason)
        else:
            return render(request, "error.html", status_code=404, message=words("not_found"), title=None)
    except DomainError as exc:
        if isinstance(exc, NotAllowed):
            raise
        return _dead_page(request, ctx, actor, 0, None, status=status_for(exc) or 400,
                          error=exc.message(words.language), failed=message_id, reason=reason)
    request.state.session.flash = words("dl_retried" if action == "retry" else "dl_skipped", n=message_id)
    return RedirectResponse(f"{PREFIX}/admin/dead-letters", status_code=303)


@router.get("/admin/quarantine", name="quarantine")
def quarantine_list(request: Request, actor: ActorDep, ctx: CtxDep, page: _Page = 0,
                    state: Annotated[str, Query(pattern="^(open|rerun|discarded|all)$")] = "open",
                    ) -> Response:
    """Quarantined inbound messages, oldest first (open ones by default)."""
    words = request.app.state.words
    found = quarantine.list_quarantine(ctx, actor, None if state == "all" else state, limit=PAGE + 1,
                                       offset=page * PAGE)
    return render(request, "quarantine.html", rows=found[:PAGE], more=len(found) > PAGE, page=page,
                  state=state, show_date=lambda value: show_date(value, words))


def _item_page(request: Request, ctx: ServiceContext, actor: Actor, item_id: int, *, status: int = 200,
               error: str | None = None, reason: str = "", fixed: str | None = None,
               ack: tuple[str, str] | None = None) -> Response:
    words = request.app.state.words
    item = quarantine.get_quarantined(ctx, actor, item_id)
    text = item.raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return render(request, "quarantined.html", status_code=status, item=item, text=text,
                  fixed=text if fixed is None else fixed, error=error, reason=reason, ack=ack,
                  show_date=lambda value: show_date(value, words))


@router.get("/admin/quarantine/{item_id}", name="quarantined")
def quarantined(request: Request, item_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """One quarantined message: why, its text, re-run (as received or fixed), discard."""
    return _item_page(request, ctx, actor, item_id)


@router.post("/admin/quarantine/{item_id}/rerun", name="quarantine_rerun")
def rerun(request: Request, item_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
          message: Annotated[str, Form(max_length=200_000)] = "") -> Response:
    """Run the message again, as received (text unchanged) or as fixed; the new ACK is shown."""
    words = request.app.state.words
    item = quarantine.get_quarantined(ctx, actor, item_id)
    received = item.raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    typed = message.replace("\r\n", "\n").strip("\n")
    fixed = None if not typed or typed == received.strip("\n") else typed.replace("\n", "\r")
    processor = request.app.state.hl7_processor
    if processor is None:
        return _item_page(request, ctx, actor, item_id, status=503, error=words("no_processor"),
                          fixed=message)
    try:
        code, ack = quarantine.rerun(ctx, actor, item_id, processor, fixed)
    except DomainError as exc:
        if isinstance(exc, NotAllowed):
            raise
        return _item_page(request, ctx, actor, item_id, status=status_for(exc) or 400,
                          error=exc.message(words.language), fixed=message)
    return _item_page(request, ctx, actor, item_id, ack=(code, ack.replace("\r", "\n")))


@router.post("/admin/quarantine/{item_id}/discard", name="quarantine_discard")
def discard(request: Request, item_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
            reason: _Reason = "") -> Response:
    """Close the message without applying it, with a reason."""
    words = request.app.state.words
    try:
        quarantine.discard(ctx, actor, item_id, reason)
    except DomainError as exc:
        if isinstance(exc, NotAllowed):
            raise
        return _item_page(request, ctx, actor, item_id, status=status_for(exc) or 400,
                          error=exc.message(words.language), reason=reason)
    request.state.session.flash = words("q_discarded", n=item_id)
    return RedirectResponse(f"{PREFIX}/admin/quarantine", status_code=303)
