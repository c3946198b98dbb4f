"""The one way into the database: ``Database.unit_of_work`` (a transaction) and ``Database.reading``.

A use case opens one unit of work, changes things through its repositories, and commits once:
the identity changes, their audit rows and the rows the change sinks (the HL7 outbox) write all
reach the database in a single commit. Leaving the ``with`` block without ``commit()`` rolls
everything back. Reads that need no transaction go through ``reading()`` (autocommit: at READ
COMMITTED each statement sees its own snapshot anyway, and it saves the BEGIN and ROLLBACK round
trips of every read).

Speed machinery, and its rules (the hot paths are the HL7 feed, the desk and campaigns):

- **Pipelined commit** (``engine.commit_with``): at ``commit()`` the sinks read first, then their
  writes, the audit rows and the ``insert_at_commit`` rows are sent together with the COMMIT, in
  one round trip on PostgreSQL. Those writes must not read results (inserts without RETURNING).
- **Lock-ahead and deferred saves**: a group of HL7 messages locks and reads its identities in one
  statement, and their saves go with the COMMIT; the rule is written once, in ``app.db.identities``.
- **Precompiled statements** (``engine.Precompiled``): constant hot statements run on the driver.

Exceptions leave a unit of work or a read in storage terms (``app.db.errors.translated``): a
unique index refusing a row raises ``DuplicateKey``, a database that cannot complete the
transaction ``DatabaseUnavailable`` (nothing was written, retry later), a value it cannot store
``InvalidValue``; everything else propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache, cached_property
from typing import Any, Protocol

from sqlalchemy import Table, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db.audit import AuditLog
from app.db.campaigns import CampaignRepository
from app.db.documents import DocumentRepository
from app.db.duplicates import DuplicateRepository
from app.db.engine import Precompiled, commit_with
from app.db.errors import translated
from app.db.identities import IdentityRepository
from app.db.identity_queries import IdentitySearch
from app.db.inbound_log import InboundLog
from app.db.indicators import IndicatorReadModel
from app.db.insi_calls import InsiCallRepository
from app.db.links import LinkRepository
from app.db.merges import MergeRepository
from app.db.mss import MssRepository
from app.db.name_heads import NameHeadCounts
from app.db.outbox import OutboxRepository
from app.db.proposals import ProposalRepository
from app.db.replays import ReplayRepository
from app.db.subscribers import SubscriberRepository
from app.db.web_sessions import WebSessionRepository
from app.db.worklists import WorklistRepository
from app.domain.identity import IdentityChange, diff
from app.domain.roles import Actor

__all__ = ["ChangeSink", "Database", "Engine", "Reader", "UnitOfWork"]


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


class Database:
    """The database of one process: its engines, the clock of its rows, the change sinks."""

    def __init__(
        self, engine: Engine, *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sinks: list[ChangeSink] | None = None,
    ) -> None:
        self.engine = engine
        self.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.now = now
        self.sinks = sinks if sinks is not None else []  # a sink added later is heard too

    def unit_of_work(self, actor: Actor) -> UnitOfWork:
        """Open the transaction of one use case, on behalf of ``actor``."""
        return UnitOfWork(_Transaction(self), actor)

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """Read-only repositories outside any transaction (one autocommit statement each)."""
        session = Session(self.read_engine)
        try:
            yield Reader(session)
        except Exception as exc:
            _raise_translated(exc)
            raise
        finally:
            session.close()

    @contextmanager
    def appending(self) -> Iterator[Repositories]:
        """Repositories for appends that stand alone (the INSi call journal), outside any
        transaction: each statement commits by itself, in one round trip. A change that must
        commit with others is a unit of work."""
        with self.reading() as repositories:
            yield repositories


class Repositories:
    """The repositories over one session: a transaction's, or an autocommit reader's (``reading``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @cached_property
    def identities(self) -> IdentityRepository:
        """Identities, their INS, documents and audit trail."""
        return IdentityRepository(self.session)

    @cached_property
    def identity_search(self) -> IdentitySearch:
        """Search pages and counts of identities."""
        return IdentitySearch(self.session)

    @cached_property
    def documents(self) -> DocumentRepository:
        """Identity document checks."""
        return DocumentRepository(self.session)

    @cached_property
    def inbound(self) -> InboundLog:
        """The inbound log (sender + MSH-10 -> ACK) and the quarantine."""
        return InboundLog(self.session)

    @cached_property
    def duplicates(self) -> DuplicateRepository:
        """Match keys, the detection queue, duplicate pairs and scans."""
        return DuplicateRepository(self.session)

    @cached_property
    def merges(self) -> MergeRepository:
        """Merge records (what an unmerge restores)."""
        return MergeRepository(self.session)

    @cached_property
    def links(self) -> LinkRepository:
        """Identity links (A24 / A37)."""
        return LinkRepository(self.session)

    @cached_property
    def worklists(self) -> WorklistRepository:
        """Identitovigilance worklist items."""
        return WorklistRepository(self.session)

    @cached_property
    def proposals(self) -> ProposalRepository:
        """INSi proposals made to the desk."""
        return ProposalRepository(self.session)

    @cached_property
    def insi_calls(self) -> InsiCallRepository:
        """The INSi call journal."""
        return InsiCallRepository(self.session)

    @cached_property
    def campaigns(self) -> CampaignRepository:
        """Batch INSi campaigns and their items."""
        return CampaignRepository(self.session)

    @cached_property
    def subscribers(self) -> SubscriberRepository:
        """Downstream applications."""
        return SubscriberRepository(self.session)

    @cached_property
    def outbox(self) -> OutboxRepository:
        """Outbound messages."""
        return OutboxRepository(self.session)

    @cached_property
    def mss(self) -> MssRepository:
        """MSSanté messages and their recipients."""
        return MssRepository(self.session)

    @cached_property
    def replays(self) -> ReplayRepository:
        """Replay jobs."""
        return ReplayRepository(self.session)

    @cached_property
    def audit_log(self) -> AuditLog:
        """The audit trail (reads; rows are written at commit by ``UnitOfWork.audit``)."""
        return AuditLog(self.session)

    @cached_property
    def name_heads(self) -> NameHeadCounts:
        """The counts of active identities by name-key head (their deltas folded)."""
        return NameHeadCounts(self.session)

    @cached_property
    def indicators(self) -> IndicatorReadModel:
        """The identitovigilance indicators (reads only)."""
        return IndicatorReadModel(self.session)

    @cached_property
    def web_sessions(self) -> WebSessionRepository:
        """The browser application's sessions (statements that commit alone: ``Database.appending``)."""
        return WebSessionRepository(self.session)


Reader = Repositories  # what ``Database.reading`` yields


class _Transaction(Repositories):
    """What the views of one unit of work share: the session, the repositories, the pending rows."""

    def __init__(self, db: Database) -> None:
        super().__init__(Session(db.engine, expire_on_commit=False))
        self.db = db
        self.changes: list[IdentityChange] = []
        self.audits: list[dict[str, Any]] = []
        self.inserts: list[tuple[Table, list[dict[str, Any]]]] = []

    def ended(self) -> None:
        self.identities.transaction_ended()
        self.changes.clear()
        self.audits.clear()
        self.inserts.clear()


class UnitOfWork:
    """One use case's transaction, seen on behalf of one actor (audit rows, changes).

    ``acting_as`` gives another actor's view of the same transaction: a group of HL7 messages is
    one transaction, each message with its own sender as actor.
    """

    def __init__(self, transaction: _Transaction, actor: Actor) -> None:
        self._tx = transaction
        self.actor = actor
        self.identities = transaction.identities

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        self._tx.ended()
        try:
            self._tx.session.rollback()  # nothing left after a commit
            self._tx.session.close()
        except Exception:  # noqa: S110 - the connection broke: the pool replaces it
            if exc is None:
                raise
        if exc is not None:
            _raise_translated(exc)

    @property
    def documents(self) -> DocumentRepository:
        """Identity document checks."""
        return self._tx.documents

    @property
    def inbound(self) -> InboundLog:
        """The inbound log and the quarantine."""
        return self._tx.inbound

    @property
    def duplicates(self) -> DuplicateRepository:
        """Match keys, the detection queue, duplicate pairs and scans."""
        return self._tx.duplicates

    @property
    def merges(self) -> MergeRepository:
        """Merge records."""
        return self._tx.merges

    @property
    def audit_log(self) -> AuditLog:
        """The audit trail and its hash chain (rows are written at commit by ``audit``)."""
        return self._tx.audit_log

    @property
    def links(self) -> LinkRepository:
        """Identity links."""
        return self._tx.links

    @property
    def name_heads(self) -> NameHeadCounts:
        """The counts of active identities by name-key head."""
        return self._tx.name_heads

    @property
    def worklists(self) -> WorklistRepository:
        """Identitovigilance worklist items."""
        return self._tx.worklists

    @property
    def proposals(self) -> ProposalRepository:
        """INSi proposals made to the desk."""
        return self._tx.proposals

    @property
    def insi_calls(self) -> InsiCallRepository:
        """The INSi call journal."""
        return self._tx.insi_calls

    @property
    def campaigns(self) -> CampaignRepository:
        """Batch INSi campaigns and their items."""
        return self._tx.campaigns

    @property
    def subscribers(self) -> SubscriberRepository:
        """Downstream applications."""
        return self._tx.subscribers

    @property
    def outbox(self) -> OutboxRepository:
        """Outbound messages."""
        return self._tx.outbox

    @property
    def mss(self) -> MssRepository:
        """MSSanté messages and their recipients."""
        return self._tx.mss

    @property
    def replays(self) -> ReplayRepository:
        """Replay jobs."""
        return self._tx.replays

    def acting_as(self, actor: Actor) -> UnitOfWork:
        """The same transaction on behalf of another actor."""
        return UnitOfWork(self._tx, actor)

    def now(self) -> datetime:
        """The time of this transaction's rows, by the database's clock."""
        return self._tx.db.now()

    def today(self) -> date:
        """Today's date by the database's clock."""
        return self.now().date()

    def write_deferred(self) -> None:
        """Write the deferred identity saves now (before a statement that reads identity rows)."""
        self.identities.write_deferred()

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
        """Append an audit row (the diff of before/after unless full=True), written at commit."""
        if after is not None and not full:
            before, after = diff(before, after)
        self._tx.audits.append(
            {
                "identity_id": identity_id,
                "at": self.now(),
                "actor": self.actor.subject,
                "roles": ",".join(sorted(self.actor.roles)),
                "action": action,
                "before": before,
                "after": after,
                "reason": reason,
            }
        )

    def changed(self, change: IdentityChange) -> None:
        """Queue a change for the sinks (they hear it just before commit)."""
        self._tx.changes.append(change)

    def insert_at_commit(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Rows to insert with the audit rows, at commit (nothing reads them back before)."""
        self._tx.inserts.append((table, rows))

    def commit(self) -> None:
        """Let the sinks read, then write their rows, the deferred saves, the audit rows and the
        ``insert_at_commit`` rows, and commit: on PostgreSQL in one round trip."""
        tx = self._tx
        if not (tx.changes or tx.audits or tx.inserts):
            # Nothing to send with the COMMIT (a campaign runner's claim, a lease renewal): a plain
            # COMMIT, one round trip (leaving the pipeline would cost one more, a bare Sync).
            tx.identities.write_deferred()
            tx.session.commit()
            tx.ended()
            return
        sinks = tx.db.sinks if tx.changes else ()
        # The sinks read what the changes carry and their own tables, never identity rows: the
        # deferred identity saves can still go with the COMMIT.
        writes = [sink.identities_changed(tx.session, tx.changes) for sink in sinks]

        def write() -> None:
            tx.identities.write_deferred()
            for pending in writes:
                if pending is not None:
                    pending()
            tx.audit_log.add(tx.audits)
            for table, rows in tx.inserts:
                _plain_insert(table).execute(tx.session.connection(), rows)

        commit_with(tx.session, write)
        tx.ended()


def _raise_translated(exc: BaseException) -> None:
    """Raise the storage error that a driver exception stands for (see ``errors.translated``)."""
    error = translated(exc)
    if error is not None:
        raise error from exc


@cache
def _plain_insert(table: Table) -> Precompiled:
    """INSERT without RETURNING for ``insert_at_commit`` rows (one compiled form per table)."""
    return Precompiled(insert(table).inline(), by_keys=True)
