"""Errors of the storage layer, in its own terms: callers above ``app.db`` never see a driver's."""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError


class DuplicateKey(Exception):
    """A row would repeat a unique key (an IPP of an authority, a sender's MSH-10...)."""


class StaleRow(Exception):
    """The row changed since it was read (optimistic locking)."""


class DatabaseUnavailable(Exception):
    """The transaction could not be completed (database down, connection lost, deadlock): nothing
    was written, the same request may be tried again."""


class InvalidValue(Exception):
    """The database refused a value the checks let through (a NUL character, a number out of range)."""


def translated(exc: BaseException) -> Exception | None:
    """The storage error a driver exception stands for, or None when it must propagate as it is.

    The one mapping of driver errors for the layers above: a unique index refusing a row, a value
    the database cannot store, and a database that cannot complete the transaction (down, a
    connection broken, a deadlock or a serialization failure: nothing was written).
    """
    if isinstance(exc, IntegrityError):
        orig = exc.orig
        unique = getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint" in str(orig)
        return DuplicateKey(type(orig).__name__) if unique else None
    if isinstance(exc, DataError):
        return InvalidValue(type(exc.orig).__name__)
    if isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return DatabaseUnavailable(type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__)
    return None
