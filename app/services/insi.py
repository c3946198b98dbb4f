"""INSi use cases: search (no identity change), the call journal and its listing.

The gateway is the ``InsiGateway`` port of ``app.domain.insi``; the zeep client implementing it is
wired by the composition root (app/main.py), so this module never imports zeep. A later
qualification workflow applies answers to identities through the same port.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.db.insi_calls import InsiCall, InsiCallFilters
from app.domain.insi import (
    CallContext,
    CallPurpose,
    InsiAnswer,
    InsiCallObserver,
    InsiCallRecord,
    InsiGateway,
    TraitsQuery,
    VitaleQuery,
)
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext

__all__ = ["InsiCall", "InsiCallFilters", "journal_observer", "list_insi_calls", "record_insi_calls",
           "search_insi"]

SEARCHERS = (Role.ADMISSION, Role.IDENTITOVIGILANCE)
JOURNAL_READERS = (Role.IDENTITOVIGILANCE, Role.ADMIN)


def record_insi_calls(ctx: ServiceContext, records: Sequence[InsiCallRecord]) -> None:
    """Append calls to the journal at once, outside any use case's transaction (answers and errors
    alike): one INSERT that commits by itself."""
    with ctx.db.appending() as journal:
        journal.insi_calls.append(records)


def journal_observer(ctx: ServiceContext) -> InsiCallObserver:
    """The observer the INSi client reports every call to."""

    def observe(record: InsiCallRecord) -> None:
        record_insi_calls(ctx, (record,))

    return observe


def search_insi(
    gateway: InsiGateway,
    actor: Actor,
    query: TraitsQuery | VitaleQuery,
    *,
    identity_id: int | None = None,
    relayed_assertion: bytes | None = None,
) -> InsiAnswer:
    """Ask INSi for a person (traits or Carte Vitale) without changing any identity."""
    require_any(actor.roles, *SEARCHERS)
    context = CallContext(
        requested_by=actor.subject,
        purpose=CallPurpose.ATTENDED if actor.kind == "user" else CallPurpose.UNATTENDED,
        identity_id=identity_id,
        relayed_assertion=relayed_assertion,
    )
    if isinstance(query, VitaleQuery):
        return gateway.search_by_vitale(query, context)
    return gateway.search_by_traits(query, context)


def list_insi_calls(
    ctx: ServiceContext, actor: Actor, filters: InsiCallFilters, *, limit: int = 50, offset: int = 0
) -> list[InsiCall]:
    """The call journal, newest first (identitovigilance, admin)."""
    require_any(actor.roles, *JOURNAL_READERS)
    with ctx.reading() as reader:
        return reader.insi_calls.list(filters, limit=limit, offset=offset)
