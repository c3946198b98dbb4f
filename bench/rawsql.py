"""The raw-SQL floor: the statement IdentityRepository.search issues, run with the bare driver.

Each search is compiled from the repository's own statement builder (one SELECT: the page of
identities joined to their INS records), then executed with psycopg (PostgreSQL) or sqlite3 on an
autocommit connection like the application's read queries, without SQLAlchemy or the ORM.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import psycopg
from sqlalchemy import Select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.engine import make_url

from app.db.identity_queries import SearchFilters, search_statement

Statement = tuple[str, dict[str, Any]]


class RawDatabase:
    """Compiles repository statements for one database and opens bare driver connections."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.dialect: Any = sqlite.dialect(paramstyle="named")
            self.target = url.database or ":memory:"
            self.database_name: str | None = None
        else:
            self.dialect = pg_psycopg.dialect()
            self.database_name = url.database
            self.target = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def compile(self, stmt: Select[Any]) -> Statement:
        """SQL text and parameters as the driver receives them."""
        compiled = stmt.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        params = dict(compiled.params)
        if self.is_sqlite:
            params = {k: _sqlite_value(v) for k, v in params.items()}
        return str(compiled), params

    def connect(self) -> Any:
        """A bare driver connection in autocommit mode."""
        if self.is_sqlite:
            connection = sqlite3.connect(self.target, check_same_thread=False, timeout=30,
                                         isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            return connection
        return psycopg.connect(self.target, connect_timeout=5, autocommit=True)

    def prepare(self, filters: Sequence[SearchFilters], limit: int) -> list[Statement]:
        """The search statement of each filter set, compiled for the driver."""
        return [self.compile(search_statement(f, limit=limit, offset=0)) for f in filters]

    def worker(self) -> tuple[Callable[[Statement], bool], Callable[[], None]]:
        """A (call, close) pair for one load thread."""
        connection = self.connect()

        def call(statement: Statement) -> bool:
            _fetch(connection, statement)
            return True

        return call, connection.close


def _fetch(connection: Any, statement: Statement) -> list[Any]:
    cursor = connection.cursor()
    try:
        cursor.execute(statement[0], statement[1])
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value
