"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlmodel import Session, create_engine

PING_AFTER_IDLE_SECONDS = 5.0


def make_engine(database_url: str, *, pool_size: int = 10) -> Engine:
    """Build the engine: WAL and foreign keys on SQLite, a bounded pool on PostgreSQL.

    PostgreSQL connections are checked ("pinged") when taken from the pool after an idle spell,
    not on every checkout: a ping is one more round trip, a third of the database cost of a
    small transaction under load. A connection broken while busy (a database restart under
    traffic) fails that one transaction, which callers report as unavailable (HTTP 503, HL7 AR,
    retry) and SQLAlchemy then replaces every pooled connection.
    """
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
        hide_parameters=True,  # a logged database error never shows the traits it was writing
    )
    event.listen(engine, "checkin", _mark_checkin)
    event.listen(engine, "checkout", partial(_ping_if_idle, engine))
    return engine


def _mark_checkin(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(engine: Engine, dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """Ping a connection idle for a while; a dead one is replaced by the pool (DisconnectionError)."""
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is not None and time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        engine.dialect.do_ping(dbapi_connection)
    except engine.dialect.loaded_dbapi.Error as exc:
        raise DisconnectionError(str(exc)) from exc


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def _driver_errors(connection: Connection, statement: str | None = None) -> Iterator[Any]:
    """The connection's psycopg connection; a driver error is raised as the SQLAlchemy exception
    it would have been (an IntegrityError stays an IntegrityError, parameters hidden), and a
    connection broken meanwhile is invalidated, not pooled."""
    import psycopg

    driver = connection.connection.driver_connection
    try:
        yield driver
    except psycopg.Error as exc:
        if driver.broken or driver.closed:  # type: ignore[union-attr]
            connection.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, psycopg.Error, hide_parameters=True) from exc


@contextmanager
def driver_pipeline(connection: Connection) -> Iterator[Any]:
    """psycopg's pipeline mode on a SQLAlchemy connection's driver connection (PostgreSQL).

    Statements sent inside are queued (with psycopg's implicit BEGIN when the transaction has
    not started) and go to the server together, when a result is read or the block ends. Errors
    as in ``_driver_errors``.
    """
    with _driver_errors(connection) as driver, driver.pipeline():
        yield driver


def commit_with(session: Session, writes: Callable[[], None]) -> None:
    """Run ``writes``, then commit; on PostgreSQL the writes and the COMMIT take one round trip.

    The writes are pipelined (``driver_pipeline``): their errors surface when the COMMIT syncs,
    so ``writes`` must not read any result: inserts without RETURNING, and updates whose row
    count is known in advance (of rows this transaction holds locked). Pending ORM changes are
    flushed first, outside the pipeline (their updates check row counts). Elsewhere (SQLite)
    the writes simply run before the commit.
    """
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        with driver_pipeline(connection) as driver:
            writes()
            driver.commit()
    else:
        writes()
    session.commit()  # on PostgreSQL: nothing left to send; ends the session's transaction


_Form = tuple[str, dict[str, Any], tuple[str, ...]]  # SQL, literal values, JSON parameter names


class Precompiled:
    """A constant Core statement of a hot path, run straight on the driver on PostgreSQL.

    SQLAlchemy's execution layer (parameter processing, compiled-cache lookup, result set-up)
    costs about 40 µs of client CPU per statement, as much as psycopg itself; an HL7 message runs
    four or five statements. This compiles the statement once for psycopg and runs it on the
    driver cursor, within the same transaction. JSON parameters are adapted as SQLAlchemy would
    (the value's JSON text, None included), driver errors are raised as SQLAlchemy's exceptions
    (an IntegrityError stays one) and a broken connection is invalidated. Results are psycopg
    cursors (rows are named tuples, ``rowcount`` as usual). Other databases (SQLite) run the
    statement through SQLAlchemy, with the same row attributes.

    Only for statements built once at import time: the compiled forms are kept for the process.
    ``by_keys``: a plain ``insert(table)``, compiled for the columns the parameters name.
    ``prepare``: psycopg's choice (None: a server-side prepared statement after 5 runs); False
    plans each run for its own values.
    """

    def __init__(self, statement: Any, *, by_keys: bool = False, prepare: bool | None = None) -> None:
        self.statement = statement
        self.by_keys = by_keys
        self.prepare = prepare
        self._forms: dict[tuple[str, ...], _Form] = {}

    def _form(self, connection: Connection, keys: tuple[str, ...]) -> _Form:
        from sqlalchemy.sql import sqltypes

        columns = list(keys) if keys else None
        compiled = self.statement.compile(dialect=connection.dialect, column_keys=columns)
        binds = compiled.bind_names.items()  # parameter -> its name in the SQL
        defaults = {name: bind.effective_value for bind, name in binds if not bind.required}  # literals
        json = tuple(name for bind, name in binds if isinstance(bind.type, sqltypes.JSON))
        form = self._forms[keys] = (compiled.string, defaults, json)
        return form

    def execute(self, connection: Connection, params: dict[str, Any] | Sequence[dict[str, Any]]) -> Any:
        """Run with one parameter set (a dict) or several naming the same columns (a list:
        executemany, no rows returned). An empty list runs nothing and returns None."""
        if not params:
            return None
        if connection.dialect.name != "postgresql":
            return connection.execute(self.statement, params)
        from psycopg.rows import namedtuple_row
        from psycopg.types.json import Json

        sets = [params] if isinstance(params, dict) else list(params)
        keys = tuple(sorted(sets[0])) if self.by_keys else ()
        sql, defaults, json = self._forms.get(keys) or self._form(connection, keys)
        rows = []
        for values in sets:
            values = {**defaults, **values} if defaults else dict(values)
            for name in json:
                if name in values:
                    values[name] = Json(values[name])
            rows.append(values)
        with _driver_errors(connection, sql) as driver:
            cursor = driver.cursor(row_factory=namedtuple_row)
            if len(rows) == 1:
                cursor.execute(sql, rows[0], prepare=self.prepare)
            else:
                cursor.executemany(sql, rows)
        return cursor


def among(connection: Connection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values``: on PostgreSQL one array parameter (``= ANY``), which a scan's
    thousands of values need (an IN list of that size costs more to send and parse than to run);
    elsewhere an IN list."""
    wanted = list(values)
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, wanted, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(wanted)  # type: ignore[no-any-return]



def copy_rows(
    connection: Connection, table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows (no RETURNING): PostgreSQL's COPY, ten times cheaper than an executemany of
    INSERTs for the thousands of rows of a bulk load or a scan; elsewhere an executemany. Values as
    the columns take them (a JSON column takes the Python value). Errors as in ``_driver_errors``."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    from sqlalchemy.sql import sqltypes

    as_json = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, sqltypes.JSON)]
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with _driver_errors(connection, sql) as driver, driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            if as_json:
                row = list(row)
                for i in as_json:
                    row[i] = json.dumps(row[i], separators=(",", ":"))
            copy.write_row(row)
