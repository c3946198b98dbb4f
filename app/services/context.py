"""What every use case needs: the database, the clock, the establishment's rules, the INSi gateway.

A use case opens its one transaction with ``ctx.unit_of_work(actor)`` (see ``app.db.unit_of_work``)
and reads outside any transaction with ``ctx.reading()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from app.db.unit_of_work import ChangeSink, Database, Reader, UnitOfWork
from app.domain.documents import DocumentType
from app.domain.identity import IdentityChange
from app.domain.roles import Actor

__all__ = ["Actor", "ChangeSink", "IdentityChange", "ServiceContext", "UnitOfWork"]


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
    db: Database = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.db = Database(self.engine, now=lambda: self.now(), sinks=self.sinks)

    @property
    def read_engine(self) -> Engine:
        """The autocommit engine of reads."""
        return self.db.read_engine

    def today(self) -> date:
        """Today's date by the service clock."""
        return self.now().date()

    def unit_of_work(self, actor: Actor) -> UnitOfWork:
        """Open the transaction of one use case."""
        return self.db.unit_of_work(actor)

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """Read-only repositories outside any transaction."""
        with self.db.reading() as reader:
            yield reader
