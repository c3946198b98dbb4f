"""Outbound identity flows: the outbox change sink and the identity snapshot each row carries.

Every committed identity change writes, in its own transaction, one outbox row per enabled
subscriber that wants the event. The row carries a snapshot of the identity (traits, status,
attributes, active INS, ZFD data) taken at that moment, so that every delivery attempt renders
the same message; the format (INS-ready or legacy) is fixed when the row is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import outbox
from app.db.tables import IdentityDocumentRow
from app.domain.identity import COLLECTION_METHODS, Identity
from app.services.context import IdentityChange

# Change trigger -> HL7 event (pam-fr.md, ITI-30): creation A28, merge A40, identifier change A47.
EVENT_OF_TRIGGER = {"created": "A28", "merged": "A40", "ipp_changed": "A47"}
ZFD5_MODES = COLLECTION_METHODS


def event_for(change: IdentityChange) -> str:
    """The HL7 event announcing a change (every other change is an A31 update)."""
    return EVENT_OF_TRIGGER.get(change.trigger, "A31")


def identity_snapshot(
    session: Session,
    identity: Identity,
    before: Identity | None,
    documents: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What a subscriber needs to render the identity later, exactly as it is now.

    ``documents`` (identity id -> latest high-trust document) lets batch callers avoid one query
    per identity.
    """
    data = identity.snapshot()
    data["identity_id"] = identity.id
    data["identity_mode"] = identity.source if identity.source in ZFD5_MODES else None
    data["last_insi_call_date"] = identity.insi_at.date().isoformat() if identity.insi_at else None
    data["qualified_ins_sent"] = identity.transmissible_ins is not None
    withdrawn = before.transmissible_ins if before is not None else None
    if withdrawn is not None and identity.transmissible_ins != withdrawn:
        data["withdrawn_ins"] = {"matricule": withdrawn.matricule, "oid": withdrawn.oid}
    if not identity.state.document:
        data["document"] = None
    elif documents is not None:
        data["document"] = documents.get(identity.id)
    else:
        data["document"] = _document(session, identity)
    return data


def latest_documents(session: Session, identity_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Latest standing high-trust document of each identity, in one query."""
    rows = session.execute(
        select(IdentityDocumentRow)
        .where(
            col(IdentityDocumentRow.identity_id).in_(identity_ids),
            col(IdentityDocumentRow.withdrawn_at).is_(None),
            col(IdentityDocumentRow.high_trust),
        )
        .order_by(col(IdentityDocumentRow.id))
    ).scalars()
    return {
        row.identity_id: {
            "type": row.type,
            "expires_on": row.expires_on.isoformat() if row.expires_on else None,
        }
        for row in rows
    }


def _document(session: Session, identity: Identity) -> dict[str, Any] | None:
    row = session.execute(
        select(IdentityDocumentRow)
        .where(
            IdentityDocumentRow.identity_id == identity.id,
            col(IdentityDocumentRow.withdrawn_at).is_(None),
            col(IdentityDocumentRow.high_trust),
        )
        .order_by(col(IdentityDocumentRow.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return {"type": row.type, "expires_on": row.expires_on.isoformat() if row.expires_on else None}


class OutboxSink:
    """The change sink that writes outbox rows in the use case's transaction."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))

    def identities_changed(
        self, session: Session, changes: Sequence[IdentityChange]
    ) -> Callable[[], None] | None:
        """Snapshots now; then one row per interested subscriber and change (none when nobody
        subscribes), written with the commit."""
        rows = []
        for change in changes:
            snapshot = identity_snapshot(session, change.identity, change.before)
            for key in ("prior_ipp", "prior_ipp_authority"):  # MRG-1 of an A40 / A47
                if change.details.get(key):
                    snapshot[key] = change.details[key]
            rows.append(outbox.LiveRow(change.identity.id, event_for(change), snapshot))
        if not rows:
            return None
        now = self.clock()
        return lambda: outbox.enqueue_interested(session, rows, now)
