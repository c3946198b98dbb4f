"""Name-prefix search by key head (migration 2026_12_02_1300) finds what the walk in name order found.

A seeded population (the benchmark's generator) plus hand-made edge cases: names whose keys drop
apostrophes, hyphens and spaces, identities found by their used name only or by both names, merged
(inactive) identities, exact ties on name, first name and birth date (the id decides). A sample of the
prefixes of 3 to 5 letters of the stored keys is searched with both statements, alone and with other
criteria, page after page: same ids in the same order. The count of the key-head search (FHIR's
Bundle.total: birth-name range plus the used-name range less the identities found by both names,
migration 2026_12_04_0900; for a prefix alone also the statement built once with the prefix as
parameters) is the count of the OR of the two names.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from app.db.engine import make_engine
from app.db.identity_queries import (
    SearchFilters,
    _conditions,
    count_statement,
    prefix_count_params,
    prefix_count_statement,
    search_statement,
)
from app.db.identity_rows import IDENTITY
from app.domain.dates import DateRange
from app.domain.traits import name_search_key
from bench.identity_data import seed

PAGE = 7  # small pages: many page boundaries inside one prefix
EDGE_CASES = (  # birth name, used name, first name, birth date, active
    ("MAR TIN", None, "ANNE", date(1980, 5, 17), True),
    ("MARTIN", None, "ANNE", date(1980, 5, 17), True),
    ("MARTIN", None, "ANNE", date(1980, 5, 17), True),  # a tie but for the id
    ("MARTIN", None, "ANNE", date(1980, 5, 17), False),  # merged: never found by traits
    ("D'ARTAGNAN", "MARCHAL", "JEAN", date(1950, 1, 2), True),  # found by its used name only
    ("MARCEAU", "MARCHAND", "LUCIE", date(1990, 3, 4), True),  # found by both names
    ("ZZ-TOP", "MAR-ZZ", "PAUL", date(1970, 7, 7), True),  # sorts last by birth name
    ("AAAMAR", "MARAA", "LEA", date(2001, 1, 1), True),  # sorts first by birth name
    ("LE BRUN", "LE-GOFF", "YVES", date(1960, 6, 6), True),
    ("LEBRUN", None, "YVES", date(1960, 6, 6), True),
)


def _add_edge_cases(connection: Connection) -> None:
    template = connection.execute(text("SELECT * FROM identity ORDER BY id LIMIT 1")).mappings().one()
    columns = [c for c in template if c != "id"]
    values = ", ".join(":" + c for c in columns)
    insert = text(f"INSERT INTO identity ({', '.join(columns)}) VALUES ({values})")
    for birth_name, used_name, first_name, born, active in EDGE_CASES:
        connection.execute(insert, {**template, "ipp": None, "birth_name": birth_name,
                                    "birth_name_key": name_search_key(birth_name), "used_name": used_name,
                                    "used_name_key": name_search_key(used_name) if used_name else None,
                                    "first_name": first_name, "first_names": first_name,
                                    "first_names_key": first_name, "birth_date": born, "active": active})
    # Some seeded identities merged away: the search by traits skips them.
    connection.execute(text("UPDATE identity SET active = :no WHERE id % 17 = 3"), {"no": False})


def _ids(connection: Connection, filters: SearchFilters, offset: int, *, by_key_head: bool) -> list[int]:
    """The ids of one page, in order (a row per INS record: an identity with a former INS comes twice)."""
    statement = search_statement(filters, limit=PAGE, offset=offset, by_key_head=by_key_head)
    return list(dict.fromkeys(row.id for row in connection.execute(statement)))


@pytest.fixture
def seeded(database_url: str):
    engine = make_engine(database_url, pool_size=1)
    seed(engine, 1500, batch_size=500, seed_value=14)
    with engine.begin() as connection:
        _add_edge_cases(connection)
        connection.execute(text("ANALYZE"))
    yield engine
    engine.dispose()


def test_prefix_search_by_key_head_finds_the_same_pages(seeded) -> None:
    rng = random.Random(14)
    with seeded.connect() as connection:
        keys = connection.execute(
            text("SELECT birth_name_key FROM identity UNION SELECT used_name_key FROM identity "
                 "WHERE used_name_key IS NOT NULL")).scalars().all()
        prefixes = {key[:n] for key in keys for n in (3, 4, 5)}
        chosen = ["MAR", "MARC", "MART", "LEB", "LEG", "DAR", "ZZT"]
        prefixes = sorted(rng.sample(sorted(prefixes), 150) + chosen)
        one_date = connection.execute(text("SELECT birth_date FROM identity WHERE birth_name_key LIKE 'MAR%' "
                                           "ORDER BY id LIMIT 1")).scalar_one()
        if isinstance(one_date, str):
            one_date = date.fromisoformat(one_date)
        compared = pages_with_rows = 0
        for prefix in prefixes:
            variants = [SearchFilters(birth_name=prefix), SearchFilters(birth_name=prefix, sex="F"),
                        SearchFilters(birth_name=prefix, first_name="A"),
                        SearchFilters(birth_name=prefix, birth_dates=(DateRange(one_date, one_date, False),))]
            for filters in variants:
                # The count (FHIR's Bundle.total) from the two key-head ranges equals the OR's count.
                or_count = select(func.count()).select_from(IDENTITY).where(IDENTITY.c.active,
                                                                           *_conditions(filters))
                counted = connection.execute(count_statement(filters)).scalar_one()
                assert counted == connection.execute(or_count).scalar_one(), (prefix, filters)
                prefix_count = prefix_count_params(filters)  # a prefix alone: the statement built once
                if prefix_count is not None:
                    long, values = prefix_count
                    once = connection.execute(prefix_count_statement(long), values).scalar_one()
                    assert once == counted, (prefix, filters)
                offset = 0
                while True:
                    old = _ids(connection, filters, offset, by_key_head=False)
                    new = _ids(connection, filters, offset, by_key_head=True)
                    assert new == old, (prefix, filters, offset)
                    compared += 1
                    pages_with_rows += bool(old)
                    if len(old) < PAGE or offset >= 5 * PAGE:
                        break
                    offset += PAGE
        assert pages_with_rows > 300, pages_with_rows  # the comparison saw real pages
        # the edge cases: the used name finds D'ARTAGNAN and ZZ-TOP, merged MARTIN never
        found = _ids(connection, SearchFilters(birth_name="MAR"), 0, by_key_head=True)
        offset = PAGE
        while len(page := _ids(connection, SearchFilters(birth_name="MAR"), offset, by_key_head=True)):
            found += page
            offset += PAGE
        names = dict(connection.execute(text("SELECT id, birth_name FROM identity")).all())
        assert {"D'ARTAGNAN", "ZZ-TOP", "AAAMAR", "MAR TIN", "MARCEAU"} <= {names[i] for i in found}
        assert len(found) == len(set(found))  # found by both names: listed once
        inactive = set(connection.execute(text("SELECT id FROM identity WHERE NOT active")).scalars())
        assert not inactive & set(found)


def test_short_and_exact_names_keep_the_walk_in_name_order() -> None:
    """One or two letters, or an exact name, are not searched by key head (no index range for them)."""
    for filters in (SearchFilters(birth_name="MA"), SearchFilters(birth_name="MARTIN", exact_name=True),
                    SearchFilters(birth_name="MAR", ipp="123")):
        assert "substr" not in str(search_statement(filters, limit=20, offset=0))
    assert "substr" in str(search_statement(SearchFilters(birth_name="MAR"), limit=20, offset=0))
