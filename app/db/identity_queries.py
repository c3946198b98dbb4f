"""The read side of identities: search pages and counts (``reader.identity_search``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, func, literal_column, not_, or_, select, union
from sqlmodel import Session

from app.db.identity_rows import IDENTITY, INS, INS_COLUMNS, identities_of
from app.db.name_heads import head_count_statement, head_range
from app.domain.dates import DateRange
from app.domain.identity import Identity


@dataclass(frozen=True)
class SearchFilters:
    """Identity search criteria; names are search keys (app.domain.traits.name_search_key)."""

    birth_name: str | None = None
    exact_name: bool = False
    first_name: str | None = None
    birth_dates: tuple[DateRange, ...] = ()  # any of them (app.domain.dates.birth_date_search)
    sex: str | None = None
    birth_place_code: str | None = None
    ipp: str | None = None
    ins: str | None = None
    status: str | None = None


def _name_order(columns: Any) -> tuple[Any, ...]:
    return (columns.birth_name, columns.first_name, columns.birth_date, columns.id)


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _birth_dates(dates: DateRange) -> Any:
    """Birth dates in a range (an equality when it is one day), completed ones only if asked."""
    column = IDENTITY.c.birth_date
    within = column == dates.start if dates.start == dates.end else column.between(dates.start, dates.end)
    return and_(within, IDENTITY.c.birth_date_completed) if dates.completed_only else within


# Name-prefix searches read the ranges of ix_identity_birth_name_key_head and
# ix_identity_used_name_key_head (migration 2026_12_02_1300): their first column is this expression.
KEY_HEAD = 3


def _key_head(column: Any) -> Any:
    # Written literally, not bound: a prepared statement's generic plan must still match the index.
    return func.substr(column, literal_column("1"), literal_column(str(KEY_HEAD)))


def search_statement(
    filters: SearchFilters, *, limit: int, offset: int, by_key_head: bool = True
) -> Select[Any]:
    """One SELECT: the identities of the page (an id subquery) left-joined to their INS records.

    A single round trip instead of a second query for the INS of the page; the page is chosen by
    ids so that no aliased entity has to be built per call (also compiled as is by the benchmark's
    raw-SQL floor). Plain rows, not ORM entities: a page of 50 identities costs a fraction of the
    client CPU.

    A name prefix of KEY_HEAD letters or more is searched by key head (see _key_head_page);
    ``by_key_head=False`` keeps the walk in name order that the search used before (the same rows
    in the same order: tests and the benchmark's A/B compare both).
    """
    if by_key_head and _searches_by_key_head(filters):
        page = _key_head_page(filters, limit=limit, offset=offset)
    else:
        page = _name_order_page(filters, limit=limit, offset=offset)
    return (
        select(IDENTITY, *INS_COLUMNS)
        .outerjoin(INS, INS.c.identity_id == IDENTITY.c.id)
        .where(IDENTITY.c.id.in_(page.scalar_subquery()))
        .order_by(*_name_order(IDENTITY.c), INS.c.id)
    )


def _name_order_page(filters: SearchFilters, *, limit: int, offset: int) -> Select[Any]:
    """The ids of the page: every condition on the identity table, in name order."""
    page = select(IDENTITY.c.id)
    if not (filters.ipp or filters.ins):
        # By traits, active identities only; by identifier (IPP, INS) a merged identity is found
        # too, pointing at its survivor: an old IPP label or wristband still leads somewhere.
        page = page.where(IDENTITY.c.active)
    for condition in _conditions(filters):
        page = page.where(condition)
    return page.order_by(*_name_order(IDENTITY.c)).limit(limit).offset(offset)


def _searches_by_key_head(f: SearchFilters) -> bool:
    # By IPP or INS the identifier's own index answers at once (and merged identities count).
    long_enough = len(f.birth_name or "") >= KEY_HEAD
    return long_enough and not f.exact_name and not (f.ipp or f.ins)


def _key_head_page(filters: SearchFilters, *, limit: int, offset: int) -> Select[Any]:
    """The ids of the page of a name-prefix search: the first page of each name key, merged.

    The rows whose birth-name key starts with the prefix are one range of the birth-name key-head
    index (equal head, active), in name order; so are those whose used-name key does in the
    used-name one. The page of the union is within the first offset + limit rows of each range, so
    each range is read only that far (index-only, stopping at the LIMIT) instead of walking the
    name-order index until enough identities match; an identity matching by both keys is counted
    once (UNION). Same rows, same order, same pages as _name_order_page.
    """
    order = _name_order(IDENTITY.c)
    # Each member as a subquery: SQLite takes no LIMIT in a bare UNION member.
    branches = [select(branch.order_by(*order).limit(offset + limit).subquery())
                for branch in _key_head_branches(filters)]
    merged = union(*branches).subquery()
    return select(merged.c.id).order_by(*_name_order(merged.c)).limit(limit).offset(offset)


def _key_head_branches(filters: SearchFilters) -> list[Select[Any]]:
    """Per name key, the active identities whose key starts with the prefix, as one range of that
    key's head index (the page and the count take them from there)."""
    head, pattern = _prefix_parts(filters.birth_name or "")
    return _name_branches(head, pattern, _conditions(replace(filters, birth_name=None)))


def _prefix_parts(key: str) -> tuple[str, str | None]:
    """A name prefix as its key-head index reads it: the head, and a LIKE pattern past KEY_HEAD
    letters (None for KEY_HEAD letters: the head's equality says it all)."""
    return key[:KEY_HEAD], _like_prefix(key) if len(key) > KEY_HEAD else None


def _name_branches(head: Any, pattern: Any, others: list[Any]) -> list[Select[Any]]:
    branches = []
    for column in (IDENTITY.c.birth_name_key, IDENTITY.c.used_name_key):
        columns = (IDENTITY.c.id, IDENTITY.c.birth_name, IDENTITY.c.first_name, IDENTITY.c.birth_date)
        branch = select(*columns).where(IDENTITY.c.active, _key_matches(column, head, pattern), *others)
        if column is IDENTITY.c.used_name_key:
            branch = branch.where(column.is_not(None))  # the used-name index is partial
        branches.append(branch)
    return branches


def _key_matches(column: Any, head: Any, pattern: Any) -> Any:
    """A name key starts with the prefix of this head and LIKE pattern (``_prefix_parts``)."""
    matches = _key_head(column) == head
    if pattern is not None:
        # Only then: for a prefix of KEY_HEAD letters the head's equality says it all, and the
        # planner, multiplying the two selectivities, would see 1 row where there are thousands
        # and sort the key index's rows fetched one by one instead (p95 41 ms serially at 1M).
        return and_(matches, column.like(pattern, escape="\\"))
    return matches


def count_statement(filters: SearchFilters) -> Select[Any]:
    """How many identities the search finds (same rules as its pages).

    A name prefix alone of at most KEY_HEAD letters is the count of its head (``app.db.name_heads``,
    two index lookups); a longer one, or one with other criteria, is counted from the two key-head
    ranges, index only (``_key_head_count``)."""
    heads = _head_range(filters)
    if heads is not None:
        return head_count_statement(**heads)
    if _searches_by_key_head(filters):
        head, pattern = _prefix_parts(filters.birth_name or "")
        return _key_head_count(head, pattern, _conditions(replace(filters, birth_name=None)))
    statement = select(func.count()).select_from(IDENTITY)
    if not (filters.ipp or filters.ins):
        statement = statement.where(IDENTITY.c.active)
    return statement.where(*_conditions(filters))


def _key_head_count(head: Any, pattern: Any, others: list[Any]) -> Select[Any]:
    """The identities of the birth-name range, plus those of the used-name range whose birth-name
    key does not match (the others are counted already; the used-name index holds the birth-name
    key, migration 2026_12_04_0900): two counts added up, index only. The UNION of the two ranges
    de-duplicated every id in a hash (19 ms of a common three-letter prefix at 1M, three quarters of
    it the hash), and the OR of the two LIKEs fetched every row found (304 ms p95 of FHIR's
    Bundle.total at 1M before)."""
    by_birth, by_used = _name_branches(head, pattern, others)
    birth_key = IDENTITY.c.birth_name_key
    by_used = by_used.where(or_(birth_key.is_(None), not_(_key_matches(birth_key, head, pattern))))
    counts = [select(func.count()).select_from(branch.with_only_columns(IDENTITY.c.id).subquery())
              for branch in (by_birth, by_used)]
    return select(counts[0].scalar_subquery() + counts[1].scalar_subquery())


def prefix_count_statement(long: bool) -> Select[Any]:
    """``count_statement`` of a search by a name prefix alone, as a statement built once, for the
    driver (FHIR's Bundle.total of ``family=``), with parameters (``prefix_count_params``): the
    range of its heads (``low``, ``high``) for at most KEY_HEAD letters, else (``long``) its head
    and LIKE pattern."""
    if not long:
        return head_count_statement(bindparam("low", type_=String), bindparam("high", type_=String))
    return _key_head_count(bindparam("head", type_=String), bindparam("pattern", type_=String), [])


def prefix_count_params(filters: SearchFilters) -> tuple[bool, dict[str, str]] | None:
    """Which ``prefix_count_statement`` counts this search, and its parameters; None unless the
    search is by a name prefix alone."""
    heads = _head_range(filters)
    if heads is not None:
        return False, heads
    if not _searches_by_key_head(filters) or replace(filters, birth_name=None) != SearchFilters():
        return None
    head, pattern = _prefix_parts(filters.birth_name or "")
    return (True, {"head": head, "pattern": pattern}) if pattern is not None else None


def _head_range(filters: SearchFilters) -> dict[str, str] | None:
    """The range of name heads that counts a search by a name prefix alone (not an exact name) of
    at most KEY_HEAD letters; None for any other search, or a prefix the counts cannot answer."""
    prefix = filters.birth_name or ""
    if not prefix or len(prefix) > KEY_HEAD or replace(filters, birth_name=None) != SearchFilters():
        return None
    return head_range(prefix)


def _conditions(f: SearchFilters) -> list[Any]:
    conditions: list[Any] = []
    birth_key, used_key = IDENTITY.c.birth_name_key, IDENTITY.c.used_name_key
    if f.birth_name:
        if f.exact_name:
            conditions.append(or_(birth_key == f.birth_name, used_key == f.birth_name))
        else:
            pattern = _like_prefix(f.birth_name)
            conditions.append(or_(birth_key.like(pattern, escape="\\"), used_key.like(pattern, escape="\\")))
    if f.first_name:
        # The key lists the first names from each one on: a prefix of the key or of a part.
        pattern, first_key = _like_prefix(f.first_name), IDENTITY.c.first_names_key
        conditions.append(
            or_(first_key.like(pattern, escape="\\"), first_key.like("% " + pattern, escape="\\"))
        )
    if f.birth_dates:
        conditions.append(or_(*(_birth_dates(r) for r in f.birth_dates)))
    simple = {"sex": f.sex, "birth_place_code": f.birth_place_code, "ipp": f.ipp, "status": f.status}
    for name, value in simple.items():
        if value is not None:
            conditions.append(IDENTITY.c[name] == value)
    if f.ins:
        # An uncorrelated IN: SQLite runs a correlated EXISTS once per identity row.
        holders = select(INS.c.identity_id).where(INS.c.matricule == f.ins)
        conditions.append(IDENTITY.c.id.in_(holders))
    return conditions


class IdentitySearch:
    """Search pages and counts of identities (reads only)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def search(self, filters: SearchFilters, *, limit: int, offset: int) -> list[Identity]:
        """Identities matching every given criterion (active ones, unless an IPP or INS is given), ordered
        by name, with their INS records."""
        statement = search_statement(filters, limit=limit, offset=offset)
        return identities_of(self._session.connection().execute(statement))

    def count_by_status(self) -> dict[str, int]:
        """Identities per status."""
        rows = self._session.execute(select(IDENTITY.c.status, func.count()).group_by(IDENTITY.c.status))
        return {status: int(count) for status, count in rows}
