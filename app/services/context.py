"""What every use case needs: the engine, the clock, the establishment's rules, the change sinks.

``UnitOfWork`` is the one transaction of a use case: the identity change, its audit rows and the
rows that change sinks (the HL7 outbox) write all go to the database in a single commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Table, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db.engine import Precompiled, commit_with
from app.db.repositories import IdentityRepository
from app.domain.documents import DocumentType
from app.domain.identity import Identity, diff


@dataclass(frozen=True)
class Actor:
    """Who asks: a token subject with roles, a sending application, or a job."""

    subject: str
    roles: frozenset[str]
    kind: str = "user"


@dataclass(frozen=True)
class IdentityChange:
    """One committed change of an identity, as change sinks see it."""

    identity: Identity
    before: Identity | None
    trigger: str
    actor: Actor
    details: dict[str, Any] = field(default_factory=dict)


class ChangeSink(Protocol):
    """Something that must hear of identity changes in the same transaction (e.g. the outbox)."""

    def identities_changed(
        self, session: Session, changes: Sequence[IdentityChange]
    ) -> Callable[[], None] | None:
        """Read what the changes need now; return the writes they imply (run just before the
        commit, in the caller's session, in the changes' order), or None when there is none.

        The returned writes must not read results: on PostgreSQL they are pipelined with the
        COMMIT (see ``app.db.engine.commit_with``).
        """


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceContext:
    """Dependencies of the use cases, built once by the composition root."""

    engine: Engine
    high_trust_documents: frozenset[DocumentType]
    birth_place_codes: frozenset[str] | None = None
    sinks: list[ChangeSink] = field(default_factory=list)
    now: Callable[[], datetime] = _utcnow
    ipp_prefix: str = ""
    insi_gateway: Any = None  # an app.domain.insi.InsiGateway, wired by the composition root
    proposal_ttl_seconds: int = 15 * 60
    read_engine: Engine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Read-only queries run in autocommit: at READ COMMITTED each statement sees its own
        # snapshot anyway, and it saves the BEGIN and ROLLBACK round trips of every read.
        self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def today(self) -> date:
        """Today's date by the service clock."""
        return self.now().date()

    def unit_of_work(self, actor: Actor) -> UnitOfWork:
        """Open the transaction of one use case."""
        return UnitOfWork(self, actor)


class UnitOfWork:
    """One use case's transaction: repositories, audit, and change notification before commit."""

    def __init__(self, ctx: ServiceContext, actor: Actor) -> None:
        self.ctx = ctx
        self.actor = actor
        self._session = Session(ctx.engine, expire_on_commit=False)
        self.identities = IdentityRepository(self._session)
        self._changes: list[IdentityChange] = []
        self._audits: list[dict[str, Any]] = []
        self._inserts: list[tuple[Table, list[dict[str, Any]]]] = []

    def __enter__(self) -> UnitOfWork:
        return self

    @property
    def session(self) -> Session:
        """The transaction's session (deferred identity saves written first)."""
        return self.identities.session

    def __exit__(self, *exc: object) -> None:
        self.identities.transaction_ended()
        self._session.rollback()
        self._session.close()

    def audit(
        self,
        action: str,
        identity_id: int | None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str | None = None,
        *,
        full: bool = False,
    ) -> None:
        """Append an audit row (the diff of before/after unless full=True)."""
        if after is not None and not full:
            before, after = diff(before, after)
        self._audits.append(
            {
                "identity_id": identity_id,
                "at": self.ctx.now(),
                "actor": self.actor.subject,
                "roles": ",".join(sorted(self.actor.roles)),
                "action": action,
                "before": before,
                "after": after,
                "reason": reason,
            }
        )

    def changed(self, change: IdentityChange) -> None:
        """Queue a change for the sinks (run just before commit)."""
        self._changes.append(change)

    def insert_at_commit(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Rows to insert with the audit rows, at commit (nothing reads them back before)."""
        self._inserts.append((table, rows))

    def commit(self) -> None:
        """Let the sinks read, then write their rows, the audit rows and ``insert_at_commit`` rows,
        and commit: on PostgreSQL those writes go with the COMMIT in one round trip."""
        sinks = self.ctx.sinks if self._changes else ()
        # The sinks read what the changes carry and their own tables, never identity rows: the
        # deferred identity saves can still go with the COMMIT.
        writes = [sink.identities_changed(self._session, self._changes) for sink in sinks]

        def write() -> None:
            self.identities.write_deferred()
            for pending in writes:
                if pending is not None:
                    pending()
            self.identities.add_audits(self._audits)
            for table, rows in self._inserts:
                _plain_insert(table).execute(self._session.connection(), rows)

        commit_with(self._session, write)
        self.identities.transaction_ended()
        self._changes.clear()
        self._audits.clear()
        self._inserts.clear()


@cache
def _plain_insert(table: Table) -> Precompiled:
    """INSERT without RETURNING for ``insert_at_commit`` rows (one compiled form per table)."""
    return Precompiled(insert(table).inline(), by_keys=True)
