"""Helpers of the HL7 integration tests: fast relay settings, qualifying an identity, relay loops."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from app.config import Settings
from app.domain.ins import OID_NIR, Ins, InsRecord
from app.domain.status import IdentityState
from app.services import identities
from app.services.context import Actor, ServiceContext
from app.services.subscribers import SubscriberInput, create_subscriber
from app.workers.relay import Relay

ADMIN = Actor("admin-1", frozenset({"admin"}))
DESK = Actor("agent-1", frozenset({"admission", "identitovigilance"}))
MATRICULES = ["275126322074974", "297022A02077878", "160012B02077713"]


def fast(settings: Settings, **hl7: object) -> Settings:
    """Settings with short timeouts and backoff so fault tests run in well under a second each."""
    values = {
        "ack_timeout_seconds": 0.5,
        "connect_timeout_seconds": 0.5,
        "retry_base_seconds": 0.01,
        "retry_max_seconds": 0.05,
        "max_error_attempts": 3,
        "relay_idle_seconds": 0.01,
        "lease_seconds": 2.0,
        "relay_connections_per_subscriber": 2,
    }
    values.update(hl7)
    return settings.model_copy(update={"hl7": settings.hl7.model_copy(update=values)})


def subscriber(ctx: ServiceContext, name: str, port: int, **extra: object):
    """Register a downstream application on 127.0.0.1:port."""
    return create_subscriber(
        ctx,
        ADMIN,
        SubscriberInput(
            name=name,
            host="127.0.0.1",
            port=port,
            receiving_application=name,
            receiving_facility="CHU-X",
            **extra,
        ),
    )  # type: ignore[arg-type]


def new_identity(ctx: ServiceContext, n: int = 0, **traits: str):
    """A provisional identity with plausible traits."""
    raw = {
        "birth_name": "DUPONT",
        "first_names": "MARIE ANNE",
        "birth_date": f"19{50 + n % 40}-03-0{1 + n % 9}",
        "sex": "F",
        "birth_place_code": "63113",
    }
    raw.update(traits)
    return identities.create_identity(ctx, DESK, identities.TraitsInput(**raw), ipp=f"IPP{n:06d}")


def qualify(ctx: ServiceContext, identity_id: int, matricule: str = MATRICULES[0]):
    """Make an identity QUAL the way an INSi retrieval + document check would (test shortcut)."""
    with ctx.unit_of_work(DESK) as uow:
        before = identities.load(uow, identity_id)
        uow.identities.add_ins(identity_id, InsRecord(Ins.of(matricule, OID_NIR), True, "INSI"), ctx.now())
        after = replace(before, state=IdentityState(insi=True, document=True), insi_at=ctx.now())
        saved = identities.store(uow, before, after, "insi_retrieved")
        uow.commit()
    return saved


def rename(ctx: ServiceContext, identity_id: int, used_name: str):
    """A complementary-trait edit (A31)."""
    with ctx.unit_of_work(DESK) as uow:
        version = identities.load(uow, identity_id, for_update=False).version
    return identities.update_identity(
        ctx, DESK, identity_id, {"used_name": used_name}, expected_version=version
    )


async def drain(relay: Relay, done, timeout: float = 15.0) -> None:
    """Run relay cycles until ``done()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        if loop.time() > deadline:
            raise AssertionError("relay did not finish in time")
        if await relay.run_once() == 0:
            await asyncio.sleep(0.01)
