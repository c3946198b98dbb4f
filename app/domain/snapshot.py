"""The identity snapshot: what an outbound message says of an identity, frozen when it is queued.

One format, defined here: the HL7 outbox stores it with each message (live changes and replays),
and the renderer turns it back into the message's fields. Every delivery attempt of a row
therefore sends byte-identical content, whatever became of the identity since.

Keys: those of ``Identity.snapshot`` (the audit trail's view: ipp, [ipp_authority], traits,
status, attributes, active INS) plus ``identity_id``, ``identity_mode`` (ZFD-5),
``last_insi_call_date`` (ZFD-6), ``qualified_ins_sent``, ``document`` (ZFD-7/8: the latest
standing high-trust document of a VALI/QUAL identity, ``{"type", "expires_on"}`` or None),
``withdrawn_ins`` when the change withdrew an INS sent before, and for an A40/A47 ``prior_ipp``
with ``prior_ipp_authority`` when that identifier is not Identito's; for an A24/A37 ``linked``:
the snapshot of the other identity (its second PID), frozen with the first.
"""

from __future__ import annotations

from typing import Any

from app.domain.identity import COLLECTION_METHODS, Identity, IdentityChange

# Change trigger -> HL7 event (pam-fr.md, ITI-30): creation A28, merge A40, identifier change A47;
# an unmerged identity is created again (A28: PAM FR has no event that undoes an A40); link A24,
# unlink A37 (their change carries the other identity in ``details["linked"]``).
EVENT_OF_TRIGGER = {"created": "A28", "merged": "A40", "ipp_changed": "A47", "unmerged": "A28",
                    "linked": "A24", "unlinked": "A37"}


def event_for(change: IdentityChange) -> str:
    """The HL7 event announcing a change (every other change is an A31 update)."""
    return EVENT_OF_TRIGGER.get(change.trigger, "A31")


def identity_snapshot(
    identity: Identity, before: Identity | None, document: dict[str, Any] | None
) -> dict[str, Any]:
    """The snapshot of an identity as it is now; ``document`` is its latest standing high-trust check."""
    data = identity.snapshot()
    data["identity_id"] = identity.id
    data["identity_mode"] = identity.source if identity.source in COLLECTION_METHODS else None
    data["last_insi_call_date"] = identity.insi_at.date().isoformat() if identity.insi_at else None
    data["qualified_ins_sent"] = identity.transmissible_ins is not None
    withdrawn = before.transmissible_ins if before is not None else None
    if withdrawn is not None and identity.transmissible_ins != withdrawn:
        data["withdrawn_ins"] = {"matricule": withdrawn.matricule, "oid": withdrawn.oid}
    data["document"] = document if identity.state.document else None
    return data


def change_snapshot(change: IdentityChange, document: dict[str, Any] | None) -> dict[str, Any]:
    """The snapshot of a change, with the prior identifier MRG-1 names for an A40 / A47, and the
    other identity of an A24 / A37 (its PID only: no ZFD in ADT_A24, so no document)."""
    data = identity_snapshot(change.identity, change.before, document)
    for key in ("prior_ipp", "prior_ipp_authority"):
        if change.details.get(key):
            data[key] = change.details[key]
    linked = change.details.get("linked")
    if isinstance(linked, Identity):
        data["linked"] = identity_snapshot(linked, None, None)
    return data
