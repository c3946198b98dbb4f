"""INSi rules: what may be sent, how a stored INS is verified, and the CR 02 strategy.

Verification: there is no public contract for INSi's own verification operation, so a stored INS
is verified by a traits search with the stored traits and a strict comparison of the returned
matricule, OID and traits (insi.md "Service").
"""

from __future__ import annotations

from collections.abc import Callable

from app.domain.errors import InvalidTrait, RuleViolation
from app.domain.ins import Ins
from app.domain.insi import (
    Attempt,
    CrCode,
    InsiAnswer,
    ResolvedSearch,
    TraitsQuery,
    Verdict,
    Verification,
    VitaleQuery,
)
from app.domain.messages import register
from app.domain.traits import (
    TraitName,
    Traits,
    normalise_birth_place,
    normalise_first_names,
    normalise_name,
)

register(
    "insi-trait-not-normalised",
    "{field} must be sent to INSi exactly in the INS profile (upper case, no accents): "
    "correct the identity first.",
    "{field} doit être envoyé à l'INSi au format INS (majuscules, sans accents) : "
    "corrigez d'abord l'identité.",
)
register(
    "insi-sex-u",
    "INSi knows sex M and F only: set the sex before calling INSi.",
    "L'INSi ne connaît que les sexes M et F : renseignez le sexe avant d'appeler l'INSi.",
)
register(
    "insi-sex-unsupported",
    "INSi knows sex M and F only: no call is possible with this sex.",
    "L'INSi ne connaît que les sexes M et F : aucun appel n'est possible avec ce sexe.",
)
register(
    "insi-assertion-invalid",
    "The signed assertion relayed by the desk is unusable ({reason}).",
    "L'assertion signée transmise par le poste est inutilisable ({reason}).",
)


def _exact(value: str, trait: str, *, first_names: bool = False) -> None:
    """A strict trait is sent only if already in the INS lexical profile (ins-rniv §2)."""
    normalised = normalise_first_names(value, trait) if first_names else normalise_name(value, trait)
    if normalised != value:
        raise InvalidTrait("insi-trait-not-normalised", field=trait)


def check_traits_query(query: TraitsQuery) -> None:
    """Refuse a traits search whose traits are outside the INS profile or whose sex is not M/F."""
    _exact(query.birth_name, TraitName.BIRTH_NAME)
    for name in query.first_names:
        _exact(name, TraitName.FIRST_NAMES, first_names=True)
    check_insi_sex(query.sex)
    if query.birth_place_code is not None and (
        normalise_birth_place(query.birth_place_code) != query.birth_place_code
    ):
        raise InvalidTrait("birth-place-shape", field=TraitName.BIRTH_PLACE_CODE)


def check_insi_sex(sex: str, *, of_identity: bool = False) -> None:
    """INSi knows sex M and F only (ins-rniv §2, insi.md): the one place of that rule.

    For a stored identity (``of_identity``) a sex U is a state to settle before calling INSi
    (RuleViolation ``insi-sex-u``); in a query, any other sex makes the query invalid
    (InvalidTrait ``insi-sex-unsupported`` on the sex field).
    """
    if sex in ("M", "F"):
        return
    if of_identity:
        raise RuleViolation("insi-sex-u", field=TraitName.SEX, rule="ins-rniv §2")
    raise InvalidTrait("insi-sex-unsupported", field=TraitName.SEX)


def check_vitale_query(query: VitaleQuery) -> None:
    """Refuse a Vitale search whose birth name is outside the INS profile."""
    _exact(query.birth_name, TraitName.BIRTH_NAME)
    if not 1 <= query.birth_rank <= 9:
        raise InvalidTrait("trait-forbidden-char", field="birth_rank", char=str(query.birth_rank))


def query_from_traits(
    traits: Traits, *, all_first_names: bool = False, with_place: bool = False
) -> TraitsQuery:
    """The traits search for stored traits: first name only, or all first names, and the place."""
    names = tuple(traits.first_names.split(" ")) if all_first_names else (traits.first_name,)
    return TraitsQuery(
        birth_name=traits.birth_name,
        first_names=names,
        sex=traits.sex.value,
        birth_date=traits.birth_date,
        birth_place_code=traits.birth_place_code if with_place else None,
    )


def differing_traits(traits: Traits, answer: InsiAnswer) -> tuple[str, ...]:
    """Strict traits that differ between stored traits and the returned TIQ (EXI REC 07)."""
    returned = answer.traits
    if returned is None:
        return ()
    pairs = {
        TraitName.BIRTH_NAME: (traits.birth_name, returned.birth_name),
        TraitName.FIRST_NAMES: (traits.first_names, returned.first_names),
        TraitName.SEX: (traits.sex.value, returned.sex),
        TraitName.BIRTH_DATE: (traits.birth_date.isoformat(), returned.birth_date),
        TraitName.BIRTH_PLACE_CODE: (traits.birth_place_code, returned.birth_place_code),
    }
    return tuple(str(name) for name, (mine, theirs) in pairs.items() if mine != theirs)


def compare_verification(traits: Traits, ins: Ins, answer: InsiAnswer) -> Verification:
    """Strict comparison of a stored INS and its traits with a traits-search answer."""
    if answer.code is CrCode.NOT_FOUND:
        return Verification(Verdict.NOT_FOUND, answer)
    if answer.code is CrCode.SEVERAL or answer.active is None:
        return Verification(Verdict.AMBIGUOUS, answer)
    active = answer.active
    if active.matricule.matricule != ins.matricule or active.oid != ins.oid:
        return Verification(Verdict.DIFFERENT_INS, answer)
    differ = differing_traits(traits, answer)
    if differ:
        return Verification(Verdict.TRAITS_DIFFER, answer, differ)
    return Verification(Verdict.CONFIRMED, answer)


def resolve_several(search: Callable[[TraitsQuery], InsiAnswer], traits: Traits) -> ResolvedSearch:
    """CR 02: ask again with every birth first name, then with the birth place (insi.md)."""
    steps: list[tuple[str, TraitsQuery]] = [("first-name", query_from_traits(traits))]
    if len(traits.first_names.split(" ")) > 1:
        steps.append(("all-first-names", query_from_traits(traits, all_first_names=True)))
    if traits.birth_place_code:
        steps.append(("birth-place", query_from_traits(traits, all_first_names=True, with_place=True)))
    attempts: list[Attempt] = []
    answer: InsiAnswer | None = None
    for step, query in steps:
        answer = search(query)
        attempts.append(Attempt(step, answer.code))
        if answer.code is not CrCode.SEVERAL:
            break
    assert answer is not None
    return ResolvedSearch(answer, tuple(attempts))
