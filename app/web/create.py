"""Creating an identity at the desk: the form with live per-field checks of the RNIV lexical
profile, the probable-duplicate warning, then the new identity's page.

Every check is the creation's own validation (``app.services.identities.build``, the same as
POST /identities): a field is checked alone by building it with neutral values in the other
fields, so that its message is the API's, next to it. Traits travel in POST bodies only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from app.api.schemas import IdentityRead
from app.domain.errors import InvalidTrait
from app.domain.roles import require_any
from app.services import identities
from app.services.context import ServiceContext
from app.services.errors import ProbableDuplicate
from app.web import compare
from app.web.deps import ActorDep, CsrfDep, CtxDep, render
from app.web.errors import PREFIX
from app.web.views import search_date

router = APIRouter()
FIELDS = ("birth_name", "first_names", "first_name", "birth_date", "sex", "birth_place_code", "used_name",
          "used_first_name")
REQUIRED = frozenset({"birth_name", "first_names", "birth_date", "sex"})
# Neutral values the other fields take while one field is checked alone (all valid).
_NEUTRAL = {"birth_name": "A", "first_names": "A", "birth_date": "2000", "sex": "U"}
_Text = Annotated[str, Form(max_length=200)]
Form_ = dict[str, str]


def _traits_input(form: Form_) -> identities.TraitsInput:
    values = {name: form.get(name, "").strip() for name in FIELDS}
    values["birth_date"] = search_date(values["birth_date"])  # JJ/MM/AAAA typed at a French desk
    values["sex"] = values["sex"].upper()
    return identities.TraitsInput(
        birth_name=values["birth_name"], first_names=values["first_names"], birth_date=values["birth_date"],
        sex=values["sex"], first_name=values["first_name"] or None,
        birth_place_code=values["birth_place_code"] or None, used_name=values["used_name"] or None,
        used_first_name=values["used_first_name"] or None)


def field_error(ctx: ServiceContext, form: Form_, name: str, language: str, *, empty_too: bool) -> str | None:
    """The creation's message for one field (None when it passes, or is empty and ``empty_too`` is off)."""
    if not form.get(name, "").strip() and not (empty_too and name in REQUIRED):
        return None
    values = {**_NEUTRAL, name: form.get(name, "")}
    if name == "first_name":  # checked against the first names typed, when they pass on their own
        own = field_error(ctx, form, "first_names", language, empty_too=True)
        values["first_names"] = form["first_names"] if own is None else form[name]
    try:
        identities.build(ctx, _traits_input(values))
    except InvalidTrait as exc:
        return exc.message(language) if exc.field in (None, name) else None
    return None


def _form(**values: str) -> Form_:
    return {name: values.get(name, "") for name in FIELDS}


def _page(request: Request, form: Form_, errors: dict[str, str], status: int = 200) -> Response:
    return render(request, "create.html", status_code=status, form=form, errors=errors,
                  sexes=("F", "M", "U"))


@router.get("/identities/new", name="create_form")
def create_form(request: Request, actor: ActorDep) -> Response:
    """The empty creation form."""
    require_any(actor.roles, *identities.EDITORS)
    return _page(request, _form(), {})


@router.post("/identities/new", name="create_prefilled")
def create_prefilled(
    request: Request, actor: ActorDep, _: CsrfDep, name: _Text = "", first_name: _Text = "",
    birth_date: _Text = "", birth_name: _Text = "", first_names: _Text = "", sex: _Text = "",
    birth_place_code: _Text = "", used_name: _Text = "", used_first_name: _Text = "",
) -> Response:
    """The form pre-filled from a search (name, first name, birth date) or from the duplicate warning."""
    require_any(actor.roles, *identities.EDITORS)
    form = _form(birth_name=birth_name or name, first_names=first_names or first_name, birth_date=birth_date,
                 sex=sex, birth_place_code=birth_place_code, used_name=used_name,
                 used_first_name=used_first_name, first_name=first_name if first_names else "")
    return _page(request, form, {})


@router.post("/identities/check", name="create_check")
def create_check(
    request: Request, actor: ActorDep, ctx: CtxDep, _: CsrfDep, check: Annotated[str, Form()] = "",
    birth_name: _Text = "", first_names: _Text = "", first_name: _Text = "", birth_date: _Text = "",
    sex: _Text = "", birth_place_code: _Text = "", used_name: _Text = "", used_first_name: _Text = "",
) -> Response:
    """One field's message (an htmx fragment put next to the field) while the agent types."""
    require_any(actor.roles, *identities.EDITORS)
    if check not in FIELDS:
        return Response(status_code=204)
    form = _form(birth_name=birth_name, first_names=first_names, first_name=first_name, birth_date=birth_date,
                 sex=sex, birth_place_code=birth_place_code, used_name=used_name,
                 used_first_name=used_first_name)
    error = field_error(ctx, form, check, request.app.state.words.language, empty_too=False)
    return render(request, "_field_error.html", field=check, error=error)


@router.post("/identities", name="create")
def create(
    request: Request, actor: ActorDep, ctx: CtxDep, _: CsrfDep, confirm_new: Annotated[bool, Form()] = False,
    birth_name: _Text = "", first_names: _Text = "", first_name: _Text = "", birth_date: _Text = "",
    sex: _Text = "", birth_place_code: _Text = "", used_name: _Text = "", used_first_name: _Text = "",
) -> Response:
    """Create the identity; the form again with each field's message, or the duplicate warning."""
    require_any(actor.roles, *identities.EDITORS)
    language = request.app.state.words.language
    form = _form(birth_name=birth_name, first_names=first_names, first_name=first_name, birth_date=birth_date,
                 sex=sex, birth_place_code=birth_place_code, used_name=used_name,
                 used_first_name=used_first_name)
    errors = {n: e for n in FIELDS if (e := field_error(ctx, form, n, language, empty_too=True))}
    if errors:
        return _page(request, form, errors, 422)
    try:
        created = identities.create_identity(ctx, actor, _traits_input(form), confirm_new=confirm_new)
    except InvalidTrait as exc:  # a check across fields
        return _page(request, form, {exc.field or "birth_name": exc.message(language)}, 422)
    except ProbableDuplicate as exc:
        return _warning(request, ctx, form, exc)
    request.state.session.flash = request.app.state.words("created")
    return RedirectResponse(f"{PREFIX}/identities/{created.id}", status_code=303)


def _warning(request: Request, ctx: ServiceContext, form: Form_, exc: ProbableDuplicate) -> Response:
    """The candidates side by side with what was typed, each with its grade and explanation."""
    words = request.app.state.words
    typed = identities.build(ctx, _traits_input(form))
    candidates = []
    for candidate in exc.candidates:
        shown = IdentityRead.of(candidate.identity, exc.roles)
        result = candidate.result
        candidates.append({
            "identity": shown, "rows": compare.rows(typed, shown, words),
            "score": compare.score(result.grade.value, result.score, result.traits, result.rules, words),
        })
    return render(request, "duplicate_warning.html", status_code=409, form=form, candidates=candidates,
                  count=len(candidates))
