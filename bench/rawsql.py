"""The raw-SQL floor: the statements IdentityRepository.search issues, run with the bare driver.

Each search is compiled from the repository's own statement builders (the identity SELECT, then the
INS SELECT for the ids it found), then executed with psycopg (PostgreSQL) or sqlite3, in one
transaction per call like the application's session, without SQLAlchemy or the ORM.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from sqlalchemy import Select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.engine import make_url

from app.db.repositories import IdentityRepository, SearchFilters

Statement = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class RawSearch:
    """One search as plain SQL: the identity SELECT and, when it finds rows, the INS SELECT."""

    identities: Statement
    ins: Statement | None


class RawDatabase:
    """Compiles repository statements for one database and opens bare driver connections."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.dialect: Any = sqlite.dialect(paramstyle="named")
            self.target = url.database or ":memory:"
        else:
            self.dialect = pg_psycopg.dialect()
            self.target = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def compile(self, stmt: Select[Any]) -> Statement:
        """SQL text and parameters as the driver receives them."""
        compiled = stmt.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        params = dict(compiled.params)
        if self.is_sqlite:
            params = {k: _sqlite_value(v) for k, v in params.items()}
        return str(compiled), params

    def connect(self) -> Any:
        """A bare driver connection (not autocommit: each call is one transaction)."""
        if self.is_sqlite:
            connection = sqlite3.connect(self.target, check_same_thread=False, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            return connection
        return psycopg.connect(self.target, connect_timeout=5)

    def prepare(self, filters: Sequence[SearchFilters], limit: int) -> list[RawSearch]:
        """Compile each search; run it once to learn the ids its INS SELECT will ask for."""
        searches: list[RawSearch] = []
        connection = self.connect()
        try:
            for f in filters:
                first = self.compile(IdentityRepository.search_statement(f, limit=limit, offset=0))
                ids = [row[0] for row in _fetch(connection, first)]
                second = self.compile(IdentityRepository.ins_statement(ids)) if ids else None
                connection.rollback()
                searches.append(RawSearch(first, second))
        finally:
            connection.close()
        return searches

    def worker(self) -> tuple[Callable[[RawSearch], bool], Callable[[], None]]:
        """A (call, close) pair for one load thread."""
        connection = self.connect()

        def call(search: RawSearch) -> bool:
            _fetch(connection, search.identities)
            if search.ins is not None:
                _fetch(connection, search.ins)
            connection.rollback()
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
