"""The count of a name prefix of one to three letters (FHIR's Bundle.total of ``family=MAR``) is read
from the name-head counts (migration 2026_12_05_0900): it must equal the count of the active identities whose
birth-name or used-name key starts with it, after every kind of write the triggers must follow
(inserts one by one and in bulk, names changed or removed, identities merged away and back, rows
deleted, a whole table truncated), folded or not, and across transactions still open."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from app.db.engine import make_engine
from app.db.identity_queries import (
    SearchFilters,
    count_statement,
    prefix_count_params,
    prefix_count_statement,
)
from app.db.identity_rows import IDENTITY
from app.db.migrations import downgrade, upgrade
from app.db.name_heads import HEAD_DELTA, NameHeadCounts
from app.domain.traits import name_search_key
from bench.identity_data import seed


def _truth(connection: Connection, head: str) -> int:
    """The count by its definition: the active identities with a name key that begins with it."""
    return int(connection.execute(
        select(func.count()).select_from(IDENTITY).where(
            IDENTITY.c.active,
            or_(IDENTITY.c.birth_name_key.startswith(head, autoescape=True),
                IDENTITY.c.used_name_key.startswith(head, autoescape=True)))
    ).scalar_one())


def _heads(connection: Connection) -> list[str]:
    keys = connection.execute(text(
        "SELECT birth_name_key FROM identity UNION SELECT used_name_key FROM identity "
        "WHERE used_name_key IS NOT NULL")).scalars().all()
    return sorted({k[:n] for k in keys for n in (1, 2, 3) if k and len(k) >= n} | {"ZZZ", "QXW", "Q"})


def _assert_counts(engine: Engine) -> int:
    """Every head's count, by the search's statement and by the one built once, equals the truth."""
    checked = 0
    with engine.connect() as connection:
        for head in _heads(connection):
            truth = _truth(connection, head)
            statement = count_statement(SearchFilters(birth_name=head))
            assert "identity_name_head" in str(statement)  # read from the counts, not the index ranges
            assert connection.execute(statement).scalar_one() == truth, head
            long, values = prefix_count_params(SearchFilters(birth_name=head)) or (True, {})
            assert not long
            assert connection.execute(prefix_count_statement(long), values).scalar_one() == truth
            checked += truth
    return checked


def _fold(engine: Engine, batch: int) -> int:
    with engine.begin() as connection:
        return NameHeadCounts(Session(bind=connection)).fold(batch)


def _pending(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(HEAD_DELTA)).scalar_one())


def _insert(connection: Connection, birth_name: str, used_name: str | None, *, active: bool = True) -> int:
    template = connection.execute(text("SELECT * FROM identity ORDER BY id LIMIT 1")).mappings().one()
    row = {**template, "ipp": None, "birth_name": birth_name, "birth_name_key": name_search_key(birth_name),
           "used_name": used_name, "used_name_key": name_search_key(used_name) if used_name else None,
           "active": active}
    del row["id"]
    columns = list(row)
    values = ", ".join(":" + c for c in columns)
    statement = text(f"INSERT INTO identity ({', '.join(columns)}) VALUES ({values}) RETURNING id")
    return int(connection.execute(statement, row).scalar_one())


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=2)
    seed(engine, 400, batch_size=150, seed_value=5)
    yield engine
    engine.dispose()


def test_counts_follow_every_kind_of_write(engine: Engine) -> None:
    assert _assert_counts(engine) > 400  # the seeded identities, by one name or both
    assert _pending(engine) > 0  # not folded yet: the counts are the deltas' sums
    with engine.begin() as connection:
        # one by one: by both names with the same head, different heads, the used name only, inactive
        _insert(connection, "MARTIN", "MARCHAND")
        _insert(connection, "MARTIN", "DUPONT")
        _insert(connection, "D'ARTAGNAN", "MARTEL")
        _insert(connection, "MARTINEZ", None, active=False)
        _insert(connection, "LE", None)  # a key shorter than a head of three
        _insert(connection, "LEBRUN", "LEGOFF")  # the same head of one and two letters, not of three
        _insert(connection, "M", "MA")
        _insert(connection, "LEBRUN", "LAMBERT")  # the same first letter only
    _assert_counts(engine)
    assert _fold(engine, 7) == 7  # partly folded: counts plus the rest of the deltas
    _assert_counts(engine)
    with engine.begin() as connection:
        # bulk, each one statement: used names removed, changed, birth names changed, merged away
        connection.execute(text("UPDATE identity SET used_name = NULL, used_name_key = NULL "
                                "WHERE id % 5 = 0"))
        connection.execute(text("UPDATE identity SET used_name = 'MARCEAU', used_name_key = 'MARCEAU' "
                                "WHERE id % 7 = 1"))
        connection.execute(text("UPDATE identity SET birth_name_key = 'ZZ' || birth_name_key "
                                "WHERE id % 11 = 2"))
        connection.execute(text("UPDATE identity SET active = :no WHERE id % 13 = 3"), {"no": False})
        connection.execute(text("UPDATE identity SET status = status"))  # no head changed: no delta
    _assert_counts(engine)
    with engine.begin() as connection:
        # unmerged
        connection.execute(text("UPDATE identity SET active = :yes WHERE id % 26 = 3"), {"yes": True})
        connection.execute(text("DELETE FROM ins WHERE identity_id % 9 = 4"))
        connection.execute(text("DELETE FROM identity WHERE id % 9 = 4 AND id NOT IN "
                                "(SELECT merged_into_id FROM identity WHERE merged_into_id IS NOT NULL)"))
    _assert_counts(engine)
    while _fold(engine, 50):
        pass
    assert _pending(engine) == 0
    _assert_counts(engine)


def test_an_update_that_changes_no_head_writes_no_delta(engine: Engine) -> None:
    while _fold(engine, 1000):
        pass
    with engine.begin() as connection:
        connection.execute(text("UPDATE identity SET status = status, version = version + 1"))
        connection.execute(text("UPDATE identity SET used_name_key = used_name_key"))
    assert _pending(engine) == 0


def test_a_rolled_back_write_leaves_the_counts(engine: Engine) -> None:
    before = _assert_counts(engine)
    with engine.connect() as connection:
        transaction = connection.begin()
        _insert(connection, "MARTIN", None)
        transaction.rollback()
    assert _assert_counts(engine) == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_fold_never_takes_a_delta_of_an_open_transaction(engine: Engine) -> None:
    """PostgreSQL: writers and the folder at once; an uncommitted delta is left for the next fold."""
    with engine.connect() as writer:
        transaction = writer.begin()
        _insert(writer, "MARTIN", "MARCHAND")
        while _fold(engine, 100):  # every committed delta, not the open one
            pass
        assert _pending(engine) == 0  # it is not visible to the folder's snapshot either
        transaction.commit()
    assert _pending(engine) > 0  # committed now: the next fold takes it
    _assert_counts(engine)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            for n in range(20):
                with engine.begin() as connection:
                    _insert(connection, name, "MARCEAU" if n % 2 else None, active=n % 3 != 0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def fold() -> None:
        try:
            for _ in range(20):
                _fold(engine, 5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("MARTIN", "MARCHAL")]
    threads += [threading.Thread(target=fold) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    _assert_counts(engine)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_truncating_the_identities_empties_the_counts(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE identity CASCADE"))
    assert _assert_counts(engine) == 0
    assert _pending(engine) == 0


def test_the_migration_counts_the_identities_already_there(database_url: str) -> None:
    """Upgrading a database that holds identities: the counts start from them."""
    downgrade(database_url, "2026_12_04_0900")
    engine = make_engine(database_url, pool_size=1)
    try:
        seed(engine, 200, batch_size=200, seed_value=9)
        upgrade(database_url)
        assert _pending(engine) == 0  # counted by the migration, no delta
        assert _assert_counts(engine) >= 200
    finally:
        engine.dispose()


def test_the_worker_job_folds_what_the_desk_writes(ctx, engine: Engine) -> None:
    """``identito worker``'s folder, running as a thread, empties the deltas of identities created at
    the desk, and the counts stay right."""
    from app.services import identities
    from app.services.context import Actor
    from app.workers.name_counts import NameCountFolder

    desk = Actor("desk-agent", frozenset({"admission"}))
    stop = threading.Event()
    with NameCountFolder(ctx, stop, poll_seconds=0.05).running():
        for n, name in enumerate(("MARTIN", "MARCHAND", "LEGRAND")):
            identities.create_identity(ctx, desk, identities.TraitsInput(
                birth_name=name, first_names="ANNE", sex="F", birth_date=f"1980-01-0{n + 1}",
                used_name="MARCEAU" if n == 1 else None), confirm_new=True)
        deadline = time.monotonic() + 15
        while _pending(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert _pending(engine) == 0
    _assert_counts(engine)


def test_prefixes_the_counts_cannot_answer_are_counted_from_the_identities(engine: Engine) -> None:
    """A ``*`` (the correction rows' mark; no stored key holds one), a last character with no next
    one, wildcards of LIKE: the right count, never an error."""
    with engine.begin() as connection:
        _insert(connection, "LEBRUN", "LEGOFF")
        _insert(connection, "L_A", None)
    with engine.connect() as connection:
        for prefix in ("LE*", "L*", "*", "L_", "L%", "LE%", "\U0010ffff", "A\U0010ffff", "\ud7ff", "É"):
            filters = SearchFilters(birth_name=prefix)
            truth = _truth(connection, prefix)
            assert connection.execute(count_statement(filters)).scalar_one() == truth, prefix
            found = prefix_count_params(filters)
            if found is not None:
                assert connection.execute(prefix_count_statement(found[0]), found[1]).scalar_one() == truth
        assert _truth(connection, "L_") == 1 and _truth(connection, "LE*") == 0
