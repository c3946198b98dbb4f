"""Demo data for `identito demo`: a few identities, among them the INSi public test persons."""

from __future__ import annotations

from datetime import timedelta

from app.services import queries
from app.services.context import Actor, ServiceContext
from app.services.identities import DocumentInput, TraitsInput, create_identity, record_document

DEMO_IDENTITIES: list[tuple[TraitsInput, str | None]] = [
    (TraitsInput("ADRUN", "ZOE", "1975-12-31", "F", birth_place_code="63220"), "CN"),
    (TraitsInput("ADRTROIS", "DOMINIQUE", "1997-02-26", "F", birth_place_code="2A020"), None),
    (TraitsInput("NESSI", "NATHALIE", "1977-07-14", "F", birth_place_code="63220"), "PA"),
    (TraitsInput("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN GUNTHER", "2001-06-17", "M",
                 birth_place_code="63220"), None),
    (TraitsInput("HOUILLES", "PIERRE", "1993-01-27", "M"), None),
    (TraitsInput("Martin", "Léa Marie", "1988-03", "F", used_name="Dubois"), None),
]


def seed_demo(ctx: ServiceContext) -> int:
    """Create the demo identities in an empty repository; returns how many were created."""
    if any(queries.identity_counts(ctx).values()):
        return 0
    actor = Actor("demo-seed", frozenset({"admission"}), kind="job")
    for traits, document in DEMO_IDENTITIES:
        identity = create_identity(ctx, actor, traits)
        if document:  # a document valid five more years
            checked = DocumentInput(document, expires_on=ctx.today() + timedelta(days=5 * 365))
            record_document(ctx, actor, identity.id, checked, expected_version=identity.version)
    return len(DEMO_IDENTITIES)
