"""ITI-78 search parameters: parsed into a ``PatientQuery`` (OR of identity searches, plus the checks
done in memory), or refused with an OperationOutcome; never silently ignored, unless the client
asks ``Prefer: handling=lenient`` (then the self link shows what was honoured)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.api.fhir.errors import FhirError
from app.api.fhir.patient import Systems
from app.domain import fhir_codes as fc
from app.domain.dates import birth_date_search
from app.domain.errors import DomainError
from app.domain.identity import Identity
from app.domain.ins import check_matricule
from app.domain.messages import register_terms
from app.domain.traits import first_names_search_key, name_search_key
from app.services.fhir import PatientQuery

SUPPORTED = ("_id", "active", "family", "given", "birthdate", "gender", "identifier")
CONTROL = ("_count", "_offset", "_format", "_total")
NOT_HELD = ("telecom", "address", "address-city", "address-country", "address-postalcode", "address-state",
            "mothersMaidenName", "_lastUpdated")
STRINGS = ("family", "given")
MAX_ALTERNATIVES = 16
DEFAULT_COUNT, MAX_COUNT = 20, 200
MIXED_IDENTIFIERS = "system| (domains) and system|value (identifiers) in separate parameters"
register_terms({"true or false": "true ou false", "a whole number": "un nombre entier",
                "male, female, other or unknown": "male, female, other ou unknown",
                "only the eq prefix is supported": "seul le préfixe eq est pris en charge",
                "YYYY, YYYY-MM or YYYY-MM-DD": "AAAA, AAAA-MM ou AAAA-MM-JJ",
                "none, estimate or accurate": "none, estimate ou accurate",
                MIXED_IDENTIFIERS: "system| (domaines) et system|value (identifiants) dans des paramètres "
                                   "distincts",
                "empty value": "valeur vide"}, parameter="why")

Check = Callable[[Identity], bool]


@dataclass
class ParsedSearch:
    """A parsed search: the query, the page, the identifier domains asked for, what was honoured."""

    query: PatientQuery
    count: int = DEFAULT_COUNT
    offset: int = 0
    domains: tuple[str, ...] = ()
    honoured: list[tuple[str, str]] = field(default_factory=list)
    with_total: bool = True  # _total=none: the client needs no count of every match


def _invalid(name: str, why: str) -> FhirError:
    return FhirError(400, "invalid", "fhir-param-invalid", name=name, why=why)


def whole_number(value: str, max_digits: int = 18) -> int | None:
    """The value when it is written in ASCII digits only (at most ``max_digits``), else None: ``isdigit``
    alone also takes "²" or "١", which ``int`` refuses."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= max_digits else None


def _int(name: str, value: str, low: int, high: int) -> int:
    number = whole_number(value.strip(), 100)
    if number is None:
        raise _invalid(name, "a whole number")
    return max(low, min(high, number))


@dataclass
class _Criterion:
    """One occurrence of a parameter: OR of values, each a DB criterion (or None) and a check."""

    name: str
    alternatives: list[dict[str, Any]] | None  # None: no identity search criterion (checked in memory)
    checks: list[Check]
    in_memory: bool = False

    def check(self, identity: Identity) -> bool:
        return any(c(identity) for c in self.checks)


def parse_search(pairs: Sequence[tuple[str, str]], systems: Systems, *, lenient: bool) -> ParsedSearch:
    """Parse ITI-78 parameters (query string or form body, in order)."""
    parsed = ParsedSearch(PatientQuery())
    criteria: list[_Criterion] = []
    ids: set[int] | None = None
    for raw_name, value in pairs:
        name, _, modifier = raw_name.partition(":")
        if name in CONTROL and not modifier:
            if name == "_count":
                parsed.count = _int(name, value, 0, MAX_COUNT)
            elif name == "_offset":
                parsed.offset = _int(name, value, 0, 100_000)
            elif name == "_total":
                if value not in ("none", "estimate", "accurate"):
                    raise _invalid(name, "none, estimate or accurate")
                parsed.with_total = value != "none"
            continue
        try:
            _refuse_unsupported(name, modifier)
        except FhirError:
            if lenient:
                continue
            raise
        if not value.strip():
            raise _invalid(raw_name, "empty value")
        parsed.honoured.append((raw_name, value))
        values = [v.strip() for v in value.split(",")]
        if name == "_id":
            wanted = {n for n in map(whole_number, values) if n is not None}
            ids = wanted if ids is None else ids & wanted
            continue
        if name == "identifier" and any(v.endswith("|") for v in values):
            if not all(v.endswith("|") for v in values):
                raise _invalid(name, MIXED_IDENTIFIERS)
            parsed.domains += tuple(_domain(v[:-1], systems) for v in values)
            continue
        criteria.append(_criterion(name, modifier, values, systems))
    parsed.query = _query(criteria, ids, parsed)
    return parsed


def _refuse_unsupported(name: str, modifier: str) -> None:
    if name in NOT_HELD:
        raise FhirError(400, "not-supported", "fhir-param-not-held", name=name)
    if name not in SUPPORTED:
        raise FhirError(400, "not-supported", "fhir-param-unsupported", name=name[:40],
                        supported=", ".join(SUPPORTED + CONTROL))
    if modifier and not (modifier == "exact" and name in STRINGS):
        raise FhirError(400, "not-supported", "fhir-modifier-unsupported", name=name, modifier=modifier[:20])


def _domain(system: str, systems: Systems) -> str:
    """A system the domain filter may name: the IPP's or an INS one; else 404 targetSystem not found."""
    if system == systems.ipp or system in fc.INS_SYSTEMS:
        return system
    raise FhirError(404, "not-found", "fhir-domain-unknown", severity="warning", system=system[:80])


def _criterion(name: str, modifier: str, values: list[str], systems: Systems) -> _Criterion:
    exact = modifier == "exact"
    if name == "family":
        return _Criterion(name, [{"birth_name": v, "exact": exact} for v in values],
                          [_family(v, exact) for v in values])
    if name == "given":
        checks = [_given(v, exact) for v in values]
        return _Criterion(name, [{"first_name": v} for v in values], checks, exact)
    if name == "birthdate":
        dates = [_date(v) for v in values]
        return _Criterion(name, [{"birth_date": d} for d in dates], [_birthdate(d) for d in dates])
    if name == "gender":
        if any(v not in ("male", "female", "other", "unknown") for v in values):
            raise _invalid(name, "male, female, other or unknown")
        known = [v for v in values if v in fc.SEX_OF_GENDER]
        return _Criterion(name, [{"sex": fc.SEX_OF_GENDER[v].value} for v in known],
                          [_gender(v) for v in values])
    if name == "active":
        if any(v not in ("true", "false") for v in values):
            raise _invalid(name, "true or false")
        return _Criterion(name, None, [_active(v == "true") for v in values], True)
    return _identifier(values, systems)


def _gender(value: str) -> Check:
    return lambda identity: fc.GENDER[identity.traits.sex] == value


def _active(value: bool) -> Check:
    return lambda identity: identity.active == value


def _date(value: str) -> str:
    if value[:2].isalpha():
        if not value.startswith("eq"):
            raise _invalid("birthdate", "only the eq prefix is supported")
        value = value[2:]
    try:
        birth_date_search(value)
    except DomainError:
        raise _invalid("birthdate", "YYYY, YYYY-MM or YYYY-MM-DD") from None
    return value


def _family(value: str, exact: bool) -> Check:
    key = name_search_key(value)

    def check(identity: Identity) -> bool:
        keys = [name_search_key(identity.traits.birth_name), name_search_key(identity.traits.used_name or "")]
        return key in keys if exact else any(k.startswith(key) for k in keys if k)

    return check


def _given(value: str, exact: bool) -> Check:
    key = name_search_key(value)

    def check(identity: Identity) -> bool:
        t = identity.traits
        if exact:
            whole = [t.first_names, t.first_name, t.used_first_name or "", *t.first_names.split()]
            return key in {name_search_key(n) for n in whole if n}
        parts = first_names_search_key(t.first_names, t.used_first_name).split()
        return any(p.startswith(key) for p in parts)

    return check


def _birthdate(value: str) -> Check:
    ranges = birth_date_search(value)

    def check(identity: Identity) -> bool:
        born, completed = identity.traits.birth_date, identity.traits.birth_date_completed
        return any(r.start <= born <= r.end and (completed or not r.completed_only) for r in ranges)

    return check


def _identifier(values: list[str], systems: Systems) -> _Criterion:
    alternatives: list[dict[str, Any]] = []
    checks: list[Check] = []
    for raw in values:
        system, bar, value = raw.rpartition("|") if "|" in raw else ("", "", raw)
        if bar and not system:  # "|value": an identifier without a system; every one shown has one
            checks.append(lambda _: False)
            continue
        for kind in _kinds(system if bar else None, value, systems):
            alternatives.append({kind: value})
        checks.append(_shows(system if bar else None, value, systems))
    return _Criterion("identifier", alternatives, checks, True)


def _kinds(system: str | None, value: str, systems: Systems) -> list[str]:
    """Which stored identifier a token may name: the IPP, the INS (a valid matricule), both."""
    kinds = []
    if system in (None, "", systems.ipp) and len(value) <= 64:
        kinds.append("ipp")
    if system in (None, "", *fc.INS_SYSTEMS):
        try:
            check_matricule(value)
            kinds.append("ins")
        except DomainError:
            pass
    return kinds


def _shows(system: str | None, value: str, systems: Systems) -> Check:
    """Whether the Patient of an identity shows this identifier (an INS only for QUAL)."""

    def check(identity: Identity) -> bool:
        if identity.ipp == value and system in (None, "", systems.of_authority(identity.ipp_authority)):
            return True
        if not identity.state.ins_transmissible:
            return False
        return any(r.ins.matricule == value and system in (None, "", f"urn:oid:{r.ins.oid}")
                   for r in identity.ins_records)

    return check


def _query(criteria: list[_Criterion], ids: set[int] | None, parsed: ParsedSearch) -> PatientQuery:
    """OR of the DB alternatives of the first occurrence of each parameter; the rest checked in memory."""
    firsts: dict[str, _Criterion] = {}
    repeated = False
    for criterion in criteria:
        if criterion.alternatives is None:
            continue
        if criterion.name in firsts:
            repeated = True
        else:
            firsts[criterion.name] = criterion
    choices = [c.alternatives or [] for c in firsts.values()]
    if any(not c for c in choices) or (ids is not None and not ids):
        return PatientQuery(ids=())  # nothing can match: no statement, the roles still checked
    combos = list(itertools.islice(itertools.product(*choices), MAX_ALTERNATIVES + 1))
    if len(combos) > MAX_ALTERNATIVES:
        raise FhirError(400, "too-costly", "fhir-too-many", max=MAX_ALTERNATIVES)
    alternatives = tuple(_merge(combo) for combo in combos) or ({},)
    needs_memory = repeated or ids is not None or bool(parsed.domains) or any(c.in_memory for c in criteria)
    keep = _keep(criteria, parsed.domains) if needs_memory else None
    return PatientQuery(alternatives, tuple(sorted(ids)) if ids is not None else None, keep)


def _merge(combo: Sequence[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in combo:
        merged.update(part)
    return merged


def _keep(criteria: list[_Criterion], domains: tuple[str, ...]) -> Check:
    """Every criterion holds, and the Patient shows an identifier of a domain asked for (if any)."""
    ins_domains = [d for d in domains if d in fc.INS_SYSTEMS]
    ipp_domain = len(ins_domains) < len(domains)

    def keep(identity: Identity) -> bool:
        if not all(c.check(identity) for c in criteria):
            return False
        if not domains or (ipp_domain and identity.ipp_authority.own):
            return True
        return identity.state.ins_transmissible and any(
            f"urn:oid:{r.ins.oid}" in ins_domains for r in identity.ins_records)

    return keep
