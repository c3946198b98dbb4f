"""One open worklist item per cause, even when two transactions open it at the same time (a desk
retry while a campaign runner writes its outcome): the second counts one more occurrence."""

from __future__ import annotations

import threading
import time

from app.domain.worklist import Hint, WorklistKind
from app.services import identities, worklists
from app.services.context import Actor
from tests.conftest import actor

UNAVAILABLE = WorklistKind.INSI_UNAVAILABLE
CELL = Actor("cell-1", frozenset({"identitovigilance"}))


def test_two_transactions_opening_the_same_cause_share_one_item(ctx) -> None:
    identity = identities.create_identity(ctx, actor("admission"),
                                          identities.TraitsInput("DUPONT", "JEAN", "1980-01-01", "M"))
    second: dict[str, int] = {}

    def desk_retry() -> None:
        with ctx.unit_of_work(actor("admission", sub="agent-desk")) as uow:
            second["id"] = worklists.open_item(uow, UNAVAILABLE, identity.id, "insi-timeout",
                                               hint=Hint.RETRY_LATER, details={"error": "timeout"})
            uow.commit()

    with ctx.unit_of_work(Actor("campaign:1", frozenset({"identitovigilance"}), kind="job")) as uow:
        first = worklists.open_item(uow, UNAVAILABLE, identity.id, "insi-unavailable", hint=Hint.RETRY_LATER,
                                    details={"error": "desir_1020"}, source="campaign:1")
        thread = threading.Thread(target=desk_retry)
        thread.start()
        time.sleep(0.5)  # the desk's transaction reaches its write while the campaign's is still open
        uow.commit()
    thread.join(timeout=30)
    assert not thread.is_alive() and second["id"] == first
    (item,) = worklists.list_items(ctx, CELL, "insi_unavailable")
    assert (item.id, item.occurrences, item.outcome) == (first, 2, "insi-timeout")
    assert item.details == {"error": "timeout"}
    assert (item.source, item.created_by) == ("campaign:1", "campaign:1")
