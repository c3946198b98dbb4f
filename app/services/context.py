"""What every use case needs: the database, the clock, the establishment's rules, the INSi gateway.

A use case opens its one transaction with ``ctx.unit_of_work(actor)`` (see ``app.db.unit_of_work``)
and reads outside any transaction with ``ctx.reading()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.db.unit_of_work import ChangeSink, Database, Engine, Reader, UnitOfWork
from app.domain.documents import DocumentType
from app.domain.duplicates import DetectionPolicy
from app.domain.identity import IdentityChange
from app.domain.roles import Actor

__all__ = ["Actor", "ChangeSink", "IdentityChange", "ServiceContext", "UnitOfWork"]


@dataclass
class ServiceContext:
    """Dependencies of the use cases, built once by the composition root."""

    db: Database
    high_trust_documents: frozenset[DocumentType]
    birth_place_codes: frozenset[str] | None = None
    ipp_prefix: str = ""
    insi_gateway: Any = None  # an app.domain.insi.InsiGateway, wired by the composition root
    proposal_ttl_seconds: int = 15 * 60
    duplicates: DetectionPolicy = field(default_factory=DetectionPolicy)

    @property
    def engine(self) -> Engine:
        """The database engine (for the composition root: schema check, disposal)."""
        return self.db.engine

    def now(self) -> datetime:
        """The service clock."""
        return self.db.now()

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
