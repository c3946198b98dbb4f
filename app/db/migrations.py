"""Alembic, driven from code: apply migrations and tell whether a database is behind."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from alembic import command

ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"


class SchemaBehind(RuntimeError):
    """The database schema is not at the code's migration head."""


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for this database (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration of the code."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is behind, with the command to run."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaBehind(
            f"database schema is at {current or 'nothing'}, the code needs {head}: "
            "run `identito db upgrade` (with the same IDENTITO_DATABASE_URL) and start again"
        )


def _run(database_url: str, action: str, revision: str) -> None:
    from app.db.engine import make_engine

    engine = make_engine(database_url, pool_size=1)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:
                # A table rebuild (batch mode) drops the old table: foreign keys stay unchecked until
                # the migration ends, then every reference is checked (SQLite's documented way).
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            with connection.begin():
                config = alembic_config(database_url)
                config.attributes["connection"] = connection
                getattr(command, action)(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError(f"{action} to {revision} left broken foreign keys")
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to a revision (creates the SQLite folder when needed)."""
    _run(database_url, "upgrade", revision)


def downgrade(database_url: str, revision: str) -> None:
    """Revert migrations down to a revision."""
    _run(database_url, "downgrade", revision)
