"""What the desk's decision on an INSi proposal stores, and journal entries appended together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.insi_calls import InsiCallFilters
from app.db.proposals import Proposal
from app.domain.insi import CallPurpose, CredentialMode, FaultCategory, InsiCallRecord, InsiOperation
from app.services import identities
from app.services.insi import list_insi_calls, record_insi_calls
from tests.conftest import actor

ANSWER = {"code": "00", "message_id": "m-1", "active": {"matricule": "275126322074974", "oid": "x"},
          "history": [None], "traits": {"birth_name": "ADRUN", "first_names": "ZOE"}}


def _proposal(ctx, identity_id: int, proposal_id: str) -> Proposal:
    now = ctx.now()
    proposal = Proposal(id=proposal_id, identity_id=identity_id, identity_version=1, answer=ANSWER,
                        created_by="agent-1", created_at=now, expires_at=now + timedelta(minutes=15))
    with ctx.unit_of_work(actor("admission")) as uow:
        uow.proposals.add(proposal)
        uow.commit()
    return proposal


def test_a_decision_keeps_who_when_and_why(ctx) -> None:
    identity = identities.create_identity(ctx, actor("admission"),
                                          identities.TraitsInput("ADRUN", "ZOE", "1975-12-01", "F"))
    rejected, accepted = _proposal(ctx, identity.id, "p-rejected"), _proposal(ctx, identity.id, "p-accepted")
    decided_at = ctx.now()
    with ctx.unit_of_work(actor("admission")) as uow:
        stored = uow.proposals.get_for_update(rejected.id)
        assert stored is not None and stored.answer == ANSWER and stored.status == "open"
        uow.proposals.decide(rejected.id, "rejected", by="agent-2", at=decided_at,
                             reason="pas la bonne personne")
        uow.proposals.decide(accepted.id, "accepted", by="agent-3", at=decided_at)
        uow.commit()
    with ctx.unit_of_work(actor("admission")) as uow:
        after_reject = uow.proposals.get_for_update(rejected.id)
        after_accept = uow.proposals.get_for_update(accepted.id)
        assert uow.proposals.get_for_update("p-unknown") is None
    assert after_reject is not None and after_accept is not None
    assert (after_reject.status, after_reject.decided_by, after_reject.reason) == (
        "rejected", "agent-2", "pas la bonne personne")
    assert (after_accept.status, after_accept.decided_by, after_accept.reason) == (
        "accepted", "agent-3", None)
    assert after_reject.decided_at is not None
    assert after_reject.decided_at.replace(tzinfo=None) == decided_at.replace(tzinfo=None)
    assert (after_accept.identity_id, after_accept.identity_version, after_accept.created_by) == (
        identity.id, 1, "agent-1")


def _call(at: datetime, outcome: str, identity_id: int | None, message_id: str) -> InsiCallRecord:
    return InsiCallRecord(
        at=at, operation=InsiOperation.TRAITS, credential_mode=CredentialMode.SERVER_CERTIFICATE,
        emitter="ES-1",
        requested_by="agent-1", identity_id=identity_id, outcome=outcome,
        error_category=FaultCategory.TECHNICAL if outcome.startswith("insi") else None, duration_ms=12.34567,
        message_id=message_id, traits_hash="h" * 64, purpose=CallPurpose.UNATTENDED,
    )


def test_calls_appended_together_are_all_listed_newest_first(ctx) -> None:
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    calls = [_call(start + timedelta(seconds=i), outcome, 7 if i else None, f"m-{i}")
             for i, outcome in enumerate(("00", "01", "insi-timeout"))]
    record_insi_calls(ctx, calls)
    record_insi_calls(ctx, [])
    cell = actor("identitovigilance")
    listed = list_insi_calls(ctx, cell, InsiCallFilters(), limit=10)
    assert [c.message_id for c in listed] == ["m-2", "m-1", "m-0"]
    assert (listed[0].outcome, listed[0].error_category, listed[0].duration_ms) == (
        "insi-timeout", "technical", 12.346)
    assert (listed[0].operation, listed[0].purpose, listed[0].identity_id) == (
        InsiOperation.TRAITS.value, "unattended", 7)
    assert [c.message_id for c in list_insi_calls(ctx, cell, InsiCallFilters(identity_id=7), limit=10)] == [
        "m-2", "m-1"]
    window = InsiCallFilters(since=start + timedelta(seconds=1), until=start + timedelta(seconds=2))
    assert [c.message_id for c in list_insi_calls(ctx, cell, window, limit=10)] == ["m-1"]
    assert [c.message_id for c in list_insi_calls(ctx, cell, InsiCallFilters(), limit=1, offset=1)] == ["m-1"]
