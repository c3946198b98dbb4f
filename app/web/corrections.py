"""The cell's corrections of an identity: its traits (strict and complementary) with the reason the
rules require, and the attributes DOUT, FICT, HOMA set or cleared with a reason.

Both forms carry the version the agent read and the values shown then (in the POST body, never in
a URL). A stale form (someone else changed the identity since: 412 in the API) comes back with
what the agent typed, the fields that differ between the version read and the current one, and
the current version, so that sending it again is a deliberate choice over the new values. The
rules (who may change what, when a reason is required, what a change does to the status) are the
services' (app.services.identities); handlers only shape what they get and return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from app.api.errors import status_for
from app.api.schemas import IdentityRead
from app.domain.errors import DomainError, InvalidTrait, MissingReason, NotAllowed
from app.domain.roles import Role, require_any
from app.services import identities, queries
from app.services.context import Actor, ServiceContext
from app.services.errors import StaleVersion
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.i18n import Words
from app.web.views import search_date, show_date

router = APIRouter()
TRAITS = ("birth_name", "first_names", "first_name", "birth_date", "sex", "birth_place_code", "used_name",
          "used_first_name")
SHOWN = (*TRAITS, "status", "attributes")  # what the conflict compares
ATTRIBUTES = ("DOUT", "FICT", "HOMA")
CORRECTORS = (Role.IDENTITOVIGILANCE,)  # the cell (attribute changes are the cell's, RNIV EXI SI 09)
_Text = Annotated[str, Form(max_length=200)]
_Reason = Annotated[str, Form(max_length=1000)]
Values = dict[str, str]


@dataclass(frozen=True)
class Difference:
    """A field someone else changed: its label, the value the agent read, the value now."""

    label: str
    read: str
    now: str


def shown_values(identity: IdentityRead, words: Words) -> Values:
    """The values of an identity as the form shows them (and carries back as read)."""
    return {
        "birth_name": identity.birth_name, "first_names": identity.first_names,
        "first_name": identity.first_name, "birth_date": show_date(identity.birth_date, words),
        "sex": identity.sex, "birth_place_code": identity.birth_place_code or "",
        "used_name": identity.used_name or "", "used_first_name": identity.used_first_name or "",
        "status": identity.status, "attributes": " ".join(sorted(identity.attributes)),
    }


def differences(read: Values, now: Values, words: Words) -> list[Difference]:
    """The fields that differ between the values read and the current ones."""
    return [Difference(words.field(name), read.get(name) or "—", now.get(name) or "—")
            for name in SHOWN if (read.get(name) or "") != (now.get(name) or "")]


def changes_typed(typed: Values, read: Values) -> dict[str, str | None]:
    """The traits the agent changed (typed differs from what was shown), as the service takes them."""
    changes: dict[str, str | None] = {}
    for name in TRAITS:
        value = typed.get(name, "").strip()
        if value == (read.get(name) or "").strip():
            continue
        if name == "birth_date":
            value = search_date(value)
        elif name == "sex":
            value = value.upper()
        changes[name] = value or None
    return changes


def _current(ctx: ServiceContext, actor: Actor, identity_id: int) -> IdentityRead:
    return IdentityRead.of(queries.get_identity(ctx, actor, identity_id), actor.roles)


def _last_change(ctx: ServiceContext, actor: Actor, identity_id: int, words: Words) -> str | None:
    """Who changed the identity last, when, and how (for the conflict message)."""
    try:
        events = queries.identity_history(ctx, actor, identity_id)
    except NotAllowed:
        return None
    if not events:
        return None
    event = events[0]
    return words("conflict_last", action=words.action(event.action), actor=event.actor,
                 at=show_date(event.at, words))


def _page(request: Request, ctx: ServiceContext, actor: Actor, identity_id: int, *, status: int = 200,
          typed: Values | None = None, reason: str = "", errors: dict[str, str] | None = None,
          error: str | None = None, conflict: list[Difference] | None = None, attribute_reason: str = "",
          attribute_action: str = "", attribute_error: str | None = None) -> Response:
    """The corrections page for the identity as it is now (the typed values kept when given)."""
    words = request.app.state.words
    identity = _current(ctx, actor, identity_id)
    current = shown_values(identity, words)
    actions = [(("remove:" if code in identity.attributes else "set:") + code,
                words("attr_remove" if code in identity.attributes else "attr_set", code=code,
                      meaning=words.attribute(code))) for code in ATTRIBUTES]
    last = _last_change(ctx, actor, identity_id, words) if conflict is not None else None
    return render(request, "corrections.html", status_code=status, identity=identity, read=current,
                  form=typed or current, reason=reason, errors=errors or {}, error=error, conflict=conflict,
                  last_change=last, actions=actions, attribute_reason=attribute_reason,
                  attribute_action=attribute_action, attribute_error=attribute_error, sexes=("F", "M", "U"))


@router.get("/identities/{identity_id}/corrections", name="corrections")
def corrections_page(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep) -> Response:
    """The correction forms of an identity (the cell's)."""
    require_any(actor.roles, *CORRECTORS)
    return _page(request, ctx, actor, identity_id)


def _read_values(form: dict[str, str]) -> Values:
    return {name: form.get(f"read_{name}", "") for name in SHOWN}


@router.post("/identities/{identity_id}/corrections/traits", name="correct_traits")
async def correct_traits(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
                         version: Annotated[int, Form()], reason: _Reason = "") -> Response:
    """Change the traits the agent edited, at the version read, with the reason."""
    require_any(actor.roles, *CORRECTORS)
    words = request.app.state.words
    posted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    typed = {name: posted.get(name, "")[:200] for name in TRAITS}
    read = _read_values(posted)
    changes = changes_typed(typed, read)
    if not changes:
        return _page(request, ctx, actor, identity_id, status=422, typed=typed, reason=reason,
                     error=words("nothing_changed"))
    try:
        identities.update_identity(ctx, actor, identity_id, changes, expected_version=version, reason=reason)
    except StaleVersion:
        return _stale(request, ctx, actor, identity_id, read, typed=typed, reason=reason)
    except NotAllowed:
        raise
    except MissingReason as exc:
        return _page(request, ctx, actor, identity_id, status=422, typed=typed, reason=reason,
                     errors={"reason": exc.message(words.language)})
    except InvalidTrait as exc:
        field = exc.field if exc.field in TRAITS else None
        return _page(request, ctx, actor, identity_id, status=422, typed=typed, reason=reason,
                     errors={field: exc.message(words.language)} if field else {},
                     error=None if field else exc.message(words.language))
    except DomainError as exc:
        return _page(request, ctx, actor, identity_id, status=status_for(exc) or 400, typed=typed,
                     reason=reason, error=exc.message(words.language))
    request.state.session.flash = words("corrected")
    return RedirectResponse(f"{PREFIX}/identities/{identity_id}", status_code=303)


@router.post("/identities/{identity_id}/corrections/attributes", name="correct_attribute")
async def correct_attribute(request: Request, identity_id: int, actor: ActorDep, ctx: CtxDep, _: CsrfDep,
                            version: Annotated[int, Form()], action: Annotated[str, Form(max_length=20)] = "",
                            attribute_reason: _Reason = "") -> Response:
    """Set or clear DOUT, FICT or HOMA, at the version read, with the reason."""
    require_any(actor.roles, *CORRECTORS)
    words = request.app.state.words
    posted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    verb, _sep, code = action.partition(":")
    if verb not in ("set", "remove") or code not in ATTRIBUTES:
        return _page(request, ctx, actor, identity_id, status=422, attribute_error=words("pick_action"),
                     attribute_reason=attribute_reason, attribute_action=action)
    change = identities.set_attribute if verb == "set" else identities.remove_attribute
    try:
        change(ctx, actor, identity_id, code, reason=attribute_reason, expected_version=version)
    except StaleVersion:
        return _stale(request, ctx, actor, identity_id, _read_values(posted),
                      attribute_reason=attribute_reason, attribute_action=action)
    except NotAllowed:
        raise
    except DomainError as exc:
        return _page(request, ctx, actor, identity_id, status=status_for(exc) or 400,
                     attribute_error=exc.message(words.language), attribute_reason=attribute_reason,
                     attribute_action=action)
    request.state.session.flash = words("attr_done_set" if verb == "set" else "attr_done_removed", code=code)
    return RedirectResponse(f"{PREFIX}/identities/{identity_id}", status_code=303)


def _stale(request: Request, ctx: ServiceContext, actor: Actor, identity_id: int, read: Values, *,
           typed: Values | None = None, reason: str = "", attribute_reason: str = "",
           attribute_action: str = "") -> Response:
    """412: the page again at the current version, what changed since it was read, the typing kept."""
    words = request.app.state.words
    now = shown_values(_current(ctx, actor, identity_id), words)
    if typed is not None:  # the agent's edits stay; the fields they left take the current values
        typed = {name: value if value.strip() != (read.get(name) or "").strip() else now[name]
                 for name, value in typed.items()}
    return _page(request, ctx, actor, identity_id, status=412, typed=typed, reason=reason,
                 conflict=differences(read, now, words), attribute_reason=attribute_reason,
                 attribute_action=attribute_action)
