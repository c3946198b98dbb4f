"""Counts of active identities by name-key head (migration 2026_12_05_0900): the total of a search by
a name prefix alone of one to KEY_HEAD letters, read from two small tables.

What the triggers on ``identity`` count: each active identity, +1 under the head (first KEY_HEAD
letters) of its birth-name key and +1 under that of its used-name key when the two heads differ,
and -1 under ``LE*`` when they differ but begin with the same letters (``LE`` for LEBRUN used
LEGOFF; ``L*`` for LEBRUN used LAMBERT), so that a shorter prefix counts that identity once. The
count of a prefix is the sum over one range of head values, bytewise: ``LE`` <= head < ``LF`` holds
``LE*``, ``LEB``, ``LEG``, never ``L*`` nor ``LA*``.

The triggers append, in the transaction of each write, to ``identity_name_head_delta``; ``fold``
moves the deltas into ``identity_name_head_count`` (``identito worker`` runs it every few seconds).
A count sums both, so it is exact in every snapshot, folded or not; folding only keeps the sum
short.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.db.tables import NameHeadCountRow, NameHeadDeltaRow

HEAD_COUNT = NameHeadCountRow.__table__  # type: ignore[attr-defined]
HEAD_DELTA = NameHeadDeltaRow.__table__  # type: ignore[attr-defined]
FOLD_BATCH = 10_000
PENDING_CAP = 1_000_000  # the backlog gauge counts up to this many deltas (a bounded read)


def head_range(prefix: str) -> dict[str, str] | None:
    """The head values a prefix of one to KEY_HEAD letters sums: ``low`` <= head < ``high``; None when
    the counts cannot answer for it (a ``*``, which no stored key holds but the corrections do; a
    last character that has no next one): the caller counts the identities themselves."""
    if "*" in prefix or not prefix or prefix[-1] == "\U0010ffff":
        return None
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # no surrogate in a string sent to the database
        following = 0xE000
    return {"low": prefix, "high": prefix[:-1] + chr(following)}


def head_count_statement(low: Any, high: Any) -> Select[Any]:
    """How many active identities have a name key beginning with the prefix of this head range
    (``head_range``; values or bound parameters)."""

    def within(table: Any) -> Any:
        return and_(table.c.head >= low, table.c.head < high)

    folded = select(func.sum(HEAD_COUNT.c.n)).where(within(HEAD_COUNT)).scalar_subquery()
    pending = select(func.sum(HEAD_DELTA.c.d)).where(within(HEAD_DELTA)).scalar_subquery()
    return select(func.coalesce(folded, 0) + func.coalesce(pending, 0))


class NameHeadCounts:
    """The folding of the head count deltas (within the caller's transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def fold(self, batch: int = FOLD_BATCH) -> int:
        """Move up to ``batch`` deltas, oldest first, into the counts; how many were moved.

        The deltas are deleted and their sums added in the same transaction: a reader sees them either
        as deltas or in the counts. A delta written by a transaction still open is not seen, so not
        deleted: it is folded next time. Two folds at once each add only the rows their DELETE took.
        """
        connection = self._session.connection()
        oldest = select(HEAD_DELTA.c.id).order_by(HEAD_DELTA.c.id).limit(batch).scalar_subquery()
        taken = connection.execute(
            delete(HEAD_DELTA).where(HEAD_DELTA.c.id.in_(oldest)).returning(HEAD_DELTA.c.head, HEAD_DELTA.c.d)
        ).all()
        sums: dict[str, int] = {}
        for head, d in taken:
            sums[head] = sums.get(head, 0) + d
        changed = [{"head": head, "n": n} for head, n in sorted(sums.items()) if n]
        if changed:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            upsert = dialect.insert(HEAD_COUNT)
            upsert = upsert.on_conflict_do_update(index_elements=[HEAD_COUNT.c.head],
                                                  set_={"n": HEAD_COUNT.c.n + upsert.excluded.n})
            connection.execute(upsert, changed)
        return len(taken)

    def pending(self, cap: int = PENDING_CAP) -> int:
        """How many deltas wait to be folded, counted up to ``cap`` (a gauge: it grows only while
        no worker folds)."""
        waiting = select(HEAD_DELTA.c.id).limit(cap).subquery()
        return int(self._session.connection().execute(select(func.count()).select_from(waiting)).scalar_one())
